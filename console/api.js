// The console's only ways to the server: the public admin API under /v1, the token
// endpoint and the sign-in link exchange. The access token lives in sessionStorage
// (this tab only) and is dropped when it expires.
const KEY = 'tessera.console.session';
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem;
    this.field = typeof problem.field === 'string' ? problem.field : null;
  }
}

let expiryTimer = null;

export const session = {
  current() {
    let stored = null;
    try {
      stored = JSON.parse(sessionStorage.getItem(KEY));
    } catch {
      stored = null;
    }
    if (stored && typeof stored.token === 'string' && stored.expiresAt > Date.now()) return stored;
    if (stored) sessionStorage.removeItem(KEY);
    return null;
  },
  start(token, expiresIn, who) {
    const value = { token, expiresAt: Date.now() + Math.max(0, expiresIn - 5) * 1000, who };
    sessionStorage.setItem(KEY, JSON.stringify(value));
    this.watch();
    return value;
  },
  // Signs out when the token expires, whether or not the page is used.
  watch() {
    clearTimeout(expiryTimer);
    const current = this.current();
    if (current) expiryTimer = setTimeout(() => this.end('Your session expired. Sign in again.'), current.expiresAt - Date.now());
  },
  end(reason) {
    clearTimeout(expiryTimer);
    sessionStorage.removeItem(KEY);
    for (const listener of listeners) listener(reason);
  },
  onEnd(listener) {
    listeners.add(listener);
  },
};

async function problemOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object') {
      // OAuth endpoints answer RFC 6749 errors: error and error_description.
      if (typeof body.error === 'string' && !body.detail) {
        return { title: body.error, detail: body.error_description || body.error };
      }
      return body;
    }
  } catch {
    // Not JSON: the text itself is the best description there is.
  }
  return { title: `HTTP ${response.status}`, detail: text.trim() || `The server answered ${response.status}.` };
}

async function send(url, init) {
  let response;
  try {
    response = await fetch(url, { ...init, cache: 'no-store', credentials: 'omit' });
  } catch {
    throw new ApiError(0, { detail: 'The server could not be reached.' });
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// Calls the admin API as the signed-in account. A 401 means the token no longer
// works (expired, or its account disabled): the session ends.
export async function api(method, path, body) {
  const current = session.current();
  if (!current) {
    session.end('Your session expired. Sign in again.');
    throw new ApiError(401, { detail: 'Your session expired. Sign in again.' });
  }
  const headers = { Authorization: `Bearer ${current.token}`, Accept: 'application/json' };
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await send('/v1' + path, init);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) session.end('The server no longer accepts this session. Sign in again.');
    // Refused for want of a scope: if the account is no longer an administrator at
    // all (its roles changed), the session is over.
    if (error instanceof ApiError && error.status === 403) {
      const who = await whoami(current.token).catch(() => null);
      if (!who || !who.scopes.includes('tessera:admin')) session.end('This account is no longer an administrator. Sign in with another.');
    }
    throw error;
  }
}

// A query string from the members of `params` that have a value.
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

let knownIssuer = null;

// The issuer URL from the server's metadata (RFC 8414): the audience of the admin API.
export async function issuer() {
  if (!knownIssuer) knownIssuer = (await send('/.well-known/oauth-authorization-server', { method: 'GET' })).issuer;
  return knownIssuer;
}

// client_credentials at the token endpoint (client_secret_post).
export async function requestToken(clientId, clientSecret, extra = {}) {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
  for (const [name, value] of Object.entries(extra)) if (value) form.set(name, value);
  return send('/oauth2/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: form.toString(),
  });
}

// Redeems a one-time sign-in link's code for an access token.
export async function redeemSignInCode(code) {
  return send('/console/sign-in', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ code }),
  });
}

// Who the token belongs to, checked before a session starts.
export async function whoami(token) {
  return send('/v1/whoami', { method: 'GET', headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } });
}

export const enc = encodeURIComponent;
