// The console's shell: sign-in, the navigation and a router over the paths under
// /console. Pages live in their own modules and reach the server only through
// api.js: the admin API every client uses, and the sign-in link exchange.
import { ApiError, issuer, redeemSignInCode, requestToken, session, whoami } from './api.js';
import { button, clear, field, form, go, h, input, notice, paths } from './ui.js';
import { accountsPage } from './accounts.js';
import { accountPage } from './account.js';
import { settingsPage } from './settings.js';
import { rolesPage } from './roles.js';
import { auditPage } from './audit.js';
import { keysPage } from './keys.js';
import { tenantsPage } from './tenants.js';
import { tryItPage } from './tryit.js';
import { federationTestPage } from './federation.js';

const root = document.getElementById('app');
let signInMessage = null;

session.onEnd((reason) => {
  signInMessage = reason;
  render();
});

const isSuper = (who) => who.scopes.includes('tessera:super');

// /console/tenants/{t}/service-accounts[/{id}], …/settings, …/roles, …/audit-log,
// …/try-it, …/federation-test; /console/signing-keys and /console/tenants for super admins.
function resolve(who) {
  let parts;
  try {
    parts = location.pathname.replace(/^\/console\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return { key: null, tenant: who.tenant.slug, page: null };
  }
  if (parts.length === 0) return null;
  if (parts[0] === 'signing-keys' && parts.length === 1) return { key: 'keys', tenant: who.tenant.slug, page: (main) => keysPage(main, who) };
  if (parts[0] === 'tenants' && parts.length === 1) return { key: 'tenants', tenant: who.tenant.slug, page: (main) => tenantsPage(main, who) };
  if (parts[0] !== 'tenants' || parts.length < 3) return { key: null, tenant: who.tenant.slug, page: null };
  const tenant = parts[1];
  const section = parts[2];
  const pages = {
    'service-accounts': parts.length === 3 ? (main) => accountsPage(main, tenant, who) : parts.length === 4 ? (main) => accountPage(main, tenant, parts[3], who) : null,
    settings: parts.length === 3 ? (main) => settingsPage(main, tenant, who) : null,
    roles: parts.length === 3 ? (main) => rolesPage(main, tenant, who) : null,
    'audit-log': parts.length === 3 ? (main) => auditPage(main, tenant, who) : null,
    'try-it': parts.length === 3 ? (main) => tryItPage(main, tenant, who) : null,
    'federation-test': parts.length === 3 ? (main) => federationTestPage(main, tenant, who) : null,
  };
  return { key: section, tenant, page: pages[section] || null };
}

function navigation(who, tenant, current) {
  const link = (href, text, key) => h('a', { href, 'aria-current': current === key ? 'page' : null }, text);
  return h(
    'nav',
    { class: 'main-nav', 'aria-label': 'Console' },
    h(
      'ul',
      {},
      h('li', {}, link(paths.accounts(tenant), 'Service accounts', 'service-accounts')),
      h('li', {}, link(paths.roles(tenant), 'Roles', 'roles')),
      h('li', {}, link(paths.audit(tenant), 'Audit log', 'audit-log')),
      h('li', {}, link(paths.settings(tenant), 'Settings', 'settings')),
      h('li', {}, link(paths.tryIt(tenant), 'Try it', 'try-it')),
      h('li', {}, link(paths.federationTest(tenant), 'Federation test', 'federation-test')),
      isSuper(who) ? h('li', {}, link(paths.keys(), 'Signing keys', 'keys')) : null,
      isSuper(who) ? h('li', {}, link(paths.tenants(), 'Tenants', 'tenants')) : null,
    ),
  );
}

function shell(who, tenant, current, main) {
  const header = h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: paths.accounts(who.tenant.slug) }, 'Tessera'),
    h(
      'div',
      { class: 'who' },
      h('span', {}, `${who.name} · ${who.tenant.slug}`),
      button('Sign out', () => session.end('You signed out.')),
    ),
  );
  return [header, h('div', { class: 'layout' }, navigation(who, tenant, current), main)];
}

let rendering = 0;
// Set when the person changed page: the new page's main region takes the focus, so
// the keyboard and a screen reader start at its top.
let moveFocus = false;

async function render() {
  const current = session.current();
  if (!current) {
    renderSignIn();
    return;
  }
  const who = current.who;
  const target = resolve(who);
  if (!target) {
    go(paths.accounts(who.tenant.slug), { replace: true });
    return;
  }
  const ticket = ++rendering;
  const main = h('main', { id: 'main', tabindex: '-1', class: 'page' });
  clear(root, shell(who, target.tenant, target.key, main));
  if (moveFocus) {
    moveFocus = false;
    main.focus();
  }
  if (!target.page) {
    main.append(h('h1', {}, 'Not found'), notice('There is no such page in the console.', 'error'));
    return;
  }
  try {
    await target.page(main);
  } catch (error) {
    if (ticket !== rendering) return;
    if (error instanceof ApiError && error.status === 401) return;
    clear(main, h('h1', {}, 'Cannot show this page'), notice(describe(error), 'error'));
  }
  if (ticket === rendering) document.title = `${main.querySelector('h1')?.textContent || 'Console'} · Tessera`;
}

function describe(error) {
  if (error instanceof ApiError && error.status === 404) return `Not found: ${error.message}.`;
  if (error instanceof ApiError && error.status === 403) return `Not allowed: ${error.message}.`;
  return error.message || String(error);
}

async function begin(token, expiresIn) {
  const who = await whoami(token);
  if (!who.scopes.includes('tessera:admin')) {
    throw new ApiError(403, { detail: 'This account is not an administrator: its roles grant no tessera:admin.' });
  }
  session.start(token, expiresIn, who);
  signInMessage = null;
  // Stay on the page that was asked for; from /console itself, go to the accounts.
  render();
}

function renderSignIn(error) {
  document.title = 'Sign in · Tessera';
  const signIn = form(
    { class: 'card sign-in', 'aria-labelledby': 'sign-in-title' },
    [
      field('Client ID', input('client_id', { required: true, autocomplete: 'username', spellcheck: 'false' })),
      field('Client secret', input('client_secret', { type: 'password', required: true, autocomplete: 'current-password' })),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
    ],
    async (data) => {
      const clientId = String(data.get('client_id') || '').trim();
      const secret = String(data.get('client_secret') || '');
      if (!clientId || !secret) throw new Error('Enter the client ID and the client secret of an admin service account.');
      // Meant for the admin API (the issuer), whatever the tenant's default audience.
      const answer = await requestToken(clientId, secret, { resource: await issuer() });
      await begin(answer.access_token, answer.expires_in);
    },
  );
  clear(
    root,
    h(
      'main',
      { id: 'main', class: 'sign-in-page' },
      h('h1', { id: 'sign-in-title' }, 'Sign in to Tessera'),
      h('p', {}, 'Use the client ID and secret of a service account with an admin role, or a link from ', h('code', {}, 'tessera console --tenant SLUG'), '.'),
      signInMessage ? notice(signInMessage, 'info') : null,
      error ? notice(error, 'error') : null,
      signIn,
    ),
  );
}

// A sign-in link is used only when the person holding it presses the button: a
// link scanner or a preview that runs the page must not spend it, and a link sent
// by someone else must not end the session already open.
function renderLink(code) {
  document.title = 'Sign in · Tessera';
  const use = button('Use sign-in link', async () => {
    use.disabled = true;
    try {
      const answer = await redeemSignInCode(code);
      await begin(answer.access_token, answer.expires_in);
    } catch (error) {
      renderSignIn(`This sign-in link does not work: ${error.message}`);
    }
  }, { class: 'primary' });
  clear(
    root,
    h(
      'main',
      { id: 'main', class: 'sign-in-page' },
      h('h1', {}, 'Sign in to Tessera'),
      h('p', {}, 'This one-time link signs you in as the account it was made for. It works once: pressing the button uses it up.'),
      session.current() ? notice('You are signed in already in this tab; using the link replaces that session.', 'info') : null,
      h('div', { class: 'actions' }, use),
    ),
  );
  use.focus();
}

async function start() {
  // A sign-in link carries its code in the fragment, which never reaches a server
  // log; it leaves the address bar before anything else happens.
  const match = /^#sign-in=(tsl_[A-Za-z0-9_-]+)$/.exec(location.hash);
  if (location.hash.startsWith('#sign-in=')) history.replaceState(null, '', location.pathname + location.search);
  if (match) {
    renderLink(match[1]);
    return;
  }
  session.watch();
  render();
}

// Links inside the console change page without reloading it; links within the
// page (the skip link) keep their usual behaviour.
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.getAttribute('href').startsWith('#')) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/console') || link.hasAttribute('download')) return;
  event.preventDefault();
  moveFocus = true;
  go(url.pathname);
});
window.addEventListener('popstate', () => {
  moveFocus = true;
  render();
});
window.addEventListener('console:navigate', render);
start();
