// One service account: its settings, token binding (docs/binding.md), status,
// deletion, client secrets, API tokens, the public keys it registered for
// private_key_jwt and its federated credentials (docs/federation.md).
import { ApiError, api, enc, issuer } from './api.js';
import {
  append, badge, button, clear, confirmAction, expirations, field, fieldProblem, form, go, h, input, modal, notice, paths,
  revealSecret, select, splitCommas, splitList, table, time,
} from './ui.js';

export async function accountPage(main, tenant, id) {
  const t = enc(tenant);
  const base = `/tenants/${t}/service-accounts/${enc(id)}`;
  const [account, roles] = await Promise.all([api('GET', base), api('GET', `/tenants/${t}/roles`)]);
  const status = h('div', { role: 'status', class: 'status-line' });
  const expired = account.expires_at && new Date(account.expires_at) <= new Date();
  // Rebuilds the page, says `message` in its status line and, when `focus` selects
  // something of the new page, puts the focus there (the control pressed is gone).
  const reload = async (message, focus) => {
    clear(main);
    await accountPage(main, tenant, id);
    if (message) main.querySelector('.status-line').textContent = message;
    if (focus) main.querySelector(focus)?.focus();
  };

  const facts = h(
    'dl',
    { class: 'facts' },
    [
      ['Account ID', h('code', {}, account.id)],
      ['Client ID', h('code', {}, account.client_id)],
      ['Type', badge('Service')],
      ['Status', expired ? badge('Expired', 'disabled') : badge(account.status === 'active' ? 'Active' : 'Disabled', account.status)],
      ['Expires', account.expires_at ? time(account.expires_at) : 'never'],
      ['Roles', account.roles.join(', ') || '—'],
      ['Teams', account.groups.join(', ') || '—'],
      ['Audiences', account.audiences.join(', ') || 'the issuer (default)'],
      ['Token lifetime', account.token_lifetime ? `${account.token_lifetime} s` : 'the tenant default'],
      ['Created', time(account.created_at)],
      ['Last used', time(account.last_used_at)],
    ].map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  );

  const settings = form(
    { 'aria-labelledby': 'account-settings', class: 'card' },
    [
      h('h2', { id: 'account-settings' }, 'Settings'),
      field('Account name', input('name', { value: account.name, required: true, maxlength: 100 })),
      field('Description', h('textarea', { name: 'description', rows: 2, maxlength: 500 }, account.description || '')),
      h(
        'fieldset',
        { class: 'roles' },
        h('legend', {}, 'Roles'),
        roles.items.map((role) => field(role.name, h('input', { type: 'checkbox', name: 'roles', value: role.name, checked: account.roles.includes(role.name) }))),
      ),
      field('Teams', input('groups', { value: account.groups.join(', ') }), 'Separate teams with commas.'),
      field('Audiences', input('audiences', { value: account.audiences.join(' ') }), 'Resource URLs its tokens may name, separated by spaces. Empty: the issuer.'),
      field('Token lifetime (seconds)', input('token_lifetime', { type: 'number', min: 60, max: 86400, value: account.token_lifetime ?? '' }), 'From 60 to 86400. Empty: the tenant default.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save changes')),
    ],
    async (data) => {
      const lifetime = String(data.get('token_lifetime') || '').trim();
      const description = String(data.get('description') || '').trim();
      await api('PATCH', base, {
        name: String(data.get('name') || '').trim(),
        description: description || null,
        roles: data.getAll('roles').map(String),
        groups: splitCommas(data.get('groups')),
        audiences: splitList(data.get('audiences')),
        token_lifetime: lifetime ? Number(lifetime) : null,
      });
      await reload('Changes saved.');
    },
  );

  const disabled = account.status !== 'active';
  const problems = h('div');
  const lifecycle = h(
    'section',
    { class: 'card', 'aria-labelledby': 'lifecycle' },
    h('h2', { id: 'lifecycle' }, 'Status'),
    h('p', {}, disabled ? 'This account is disabled: its secrets, API tokens and access tokens are refused.' : 'This account is active.'),
    h(
      'div',
      { class: 'actions' },
      button(disabled ? 'Enable account' : 'Disable account', async () => {
        try {
          await api('PATCH', base, { status: disabled ? 'active' : 'disabled' });
          await reload(disabled ? 'The account is enabled.' : 'The account is disabled.');
        } catch (error) {
          clear(problems, notice(error.message, 'error'));
        }
      }),
      button('Delete account', async () => {
        const sure = await confirmAction(
          `Delete ${account.name}?`,
          'The account, its secrets and its API tokens are deleted, and every token it holds stops working at once. This cannot be undone.',
        );
        if (!sure) return;
        try {
          await api('DELETE', base);
          go(paths.accounts(tenant));
        } catch (error) {
          clear(problems, notice(error.message, 'error'));
        }
      }, { class: 'danger' }),
    ),
    problems,
  );

  append(main, [
    h('p', { class: 'crumbs' }, h('a', { href: paths.accounts(tenant) }, 'Service accounts'), ' / ', account.name),
    h('div', { class: 'page-head' }, h('h1', {}, account.name), badge('Service')),
    status,
    facts,
    lifecycle,
    settings,
    binding(account, base, reload),
    await credentials(base, { path: 'secrets', title: 'Client secrets', noun: 'secret', label: 'Client secret', value: 'client_secret', off: 'Disable' }),
    await credentials(base, { path: 'api-tokens', title: 'API tokens', noun: 'API token', label: 'API token', value: 'token', off: 'Revoke' }),
    await keys(base),
    await federated(base, tenant),
  ]);
}

// The names a client certificate can be matched on for tls_client_auth, each with the
// account field that registers it and what its value looks like (docs/binding.md, "The
// account's settings"). At most one is set; setting one clears the others.
const certificateNames = [
  ['', 'None', 'No certificate name is registered: no CA-issued certificate authenticates this account.'],
  ['tls_client_auth_subject_dn', 'Subject DN', 'The certificate’s subject as RFC 4514 writes it, e.g. CN=orders,O=Example.'],
  ['tls_client_auth_san_dns', 'DNS name', 'A DNS name among its subject alternative names, e.g. orders.example.com (no wildcard).'],
  ['tls_client_auth_san_uri', 'URI', 'An absolute URI among its subject alternative names, e.g. spiffe://example.com/orders.'],
  ['tls_client_auth_san_ip', 'IP address', 'An IPv4 or IPv6 address among its subject alternative names, e.g. 192.0.2.10.'],
  ['tls_client_auth_san_email', 'E-mail address', 'An e-mail address among its subject alternative names, e.g. orders@example.com.'],
];
const certificateFields = certificateNames.map(([name]) => name).filter(Boolean);

// What the account's tokens must be bound to and which client certificate
// authenticates it, changed in a form of its own.
function binding(account, base, reload) {
  const current = certificateFields.find((name) => account[name] != null) || '';
  const kind = select('tls_client_auth', certificateNames.map(([name, label]) => [name, label]));
  kind.value = current;
  const value = input('tls_client_auth_value', { value: current ? account[current] : '', maxlength: 1024, spellcheck: 'false' });
  const valueField = field('Certificate name', value, certificateNames[0][2]);
  const valueHint = valueField.querySelector('.hint');
  const follow = () => {
    const [name, , hint] = certificateNames.find(([option]) => option === kind.value);
    valueHint.textContent = hint;
    value.disabled = !name;
  };
  kind.addEventListener('change', follow);
  follow();
  const checkbox = (name) => h('input', { type: 'checkbox', name, checked: account[name] });

  return form(
    { 'aria-labelledby': 'account-binding', class: 'card' },
    [
      h('h2', { id: 'account-binding', tabindex: '-1' }, 'Token binding'),
      field('Require DPoP', checkbox('dpop_bound_access_tokens'), 'Every token must be bound to a key the client proves it holds, with a DPoP proof on each request.'),
      field(
        'Require a client certificate',
        checkbox('tls_client_certificate_bound_access_tokens'),
        'Every token must be bound to the TLS client certificate it was requested with.',
      ),
      field(
        'Accept self-signed certificates',
        checkbox('self_signed_tls_client_auth'),
        'A self-signed client certificate made with one of this account’s registered public keys authenticates it.',
      ),
      h(
        'fieldset',
        { class: 'wide' },
        h('legend', {}, 'Certificate authentication (tls_client_auth)'),
        field('Name to match', kind, 'A certificate from a CA the server trusts authenticates this account when it carries this name.'),
        valueField,
      ),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save token binding')),
    ],
    async (data) => {
      const chosen = String(data.get('tls_client_auth') || '');
      const request = {
        dpop_bound_access_tokens: data.get('dpop_bound_access_tokens') === 'on',
        tls_client_certificate_bound_access_tokens: data.get('tls_client_certificate_bound_access_tokens') === 'on',
        self_signed_tls_client_auth: data.get('self_signed_tls_client_auth') === 'on',
      };
      if (chosen) {
        const text = String(data.get('tls_client_auth_value') || '').trim();
        const label = certificateNames.find(([name]) => name === chosen)[1];
        if (!text) throw fieldProblem('tls_client_auth_value', `Enter the certificate’s ${label}, or choose None.`);
        request[chosen] = text;
      } else if (current) {
        request[current] = null;
      }
      try {
        await api('PATCH', base, request);
      } catch (error) {
        // A refused name is shown at the one value box, with the field the server named.
        if (error instanceof ApiError && certificateFields.includes(error.field)) {
          const detail = error.message.includes(error.field) ? error.message : `${error.field}: ${error.message}`;
          throw new ApiError(error.status, { ...error.problem, detail, field: 'tls_client_auth_value' });
        }
        throw error;
      }
      await reload('Token binding saved.', '#account-binding');
    },
  );
}

// Secrets and API tokens are managed alike: listed, added (shown once), switched
// off (a secret is disabled, an API token revoked) or on again, and deleted.
async function credentials(base, kind) {
  const section = h('section', { class: 'card', 'aria-label': kind.title });
  const problems = h('div');
  async function run(action) {
    try {
      await action();
      await load();
    } catch (error) {
      clear(problems, notice(error.message, 'error'));
    }
  }
  function add() {
    modal(`Add ${kind.noun}`, (body, close) => {
      const expiration = select('expires_in_days', expirations);
      expiration.value = '90';
      body.append(
        form(
          {},
          [
            field('Name', input('name', { required: true, maxlength: 100 })),
            field('Expiration', expiration),
            kind.path === 'api-tokens' ? field('SCIM Administration Token', h('input', { type: 'checkbox', name: 'scim' }), 'The token may only call the SCIM API.') : null,
            h('div', { class: 'actions' }, button('Cancel', close), h('button', { type: 'submit', class: 'primary' }, 'Create')),
          ],
          async (data, node) => {
            const request = { name: String(data.get('name') || '').trim() };
            if (data.get('expires_in_days')) request.expires_in_days = Number(data.get('expires_in_days'));
            if (data.get('scim') === 'on') request.scopes = ['scim'];
            const created = await api('POST', `${base}/${kind.path}`, request);
            clear(
              body,
              revealSecret(kind.label, created[kind.value], `${created.name}.${kind.path === 'secrets' ? 'secret' : 'token'}`),
              h('div', { class: 'actions' }, button('Done', close, { class: 'primary' })),
            );
            body.querySelector('button').focus();
            node.remove();
            await load();
          },
        ),
      );
    });
  }
  async function load() {
    const list = await api('GET', `${base}/${kind.path}`);
    const rows = list.items.map((item) => [
      item.name,
      h('code', {}, item.hint),
      item.scopes ? item.scopes.join(' ') : 'all of the account’s',
      item.expires_at ? time(item.expires_at) : 'never',
      time(item.last_used_at),
      badge(item.enabled ? 'Enabled' : kind.off === 'Revoke' ? 'Revoked' : 'Disabled', item.enabled ? 'active' : 'disabled'),
      h(
        'div',
        { class: 'row-actions' },
        button(item.enabled ? kind.off : 'Enable', () => run(() => api('PATCH', `${base}/${kind.path}/${enc(item.id)}`, { enabled: !item.enabled }))),
        button('Delete', async () => {
          if (await confirmAction(`Delete ${kind.noun} ${item.name}?`, `The ${kind.noun} is deleted and refused from now on.`)) {
            await run(() => api('DELETE', `${base}/${kind.path}/${enc(item.id)}`));
          }
        }, { class: 'danger' }),
      ),
    ]);
    clear(
      section,
      h('div', { class: 'section-head' }, h('h2', {}, kind.title), button(`Add ${kind.noun}`, add)),
      table(kind.title, ['Name', 'Hint', 'Scopes', 'Expires', 'Last used', 'State', 'Actions'], rows, `No ${kind.noun}s.`),
      problems,
    );
  }
  await load();
  return section;
}

async function keys(base) {
  const section = h('section', { class: 'card', 'aria-label': 'Public keys' });
  const problems = h('div');
  function add() {
    modal('Add key', (body, close) => {
      body.append(
        form(
          {},
          [
            field('Public key', h('textarea', { name: 'jwk', rows: 6, spellcheck: 'false', required: true }), 'A public JWK as JSON, with its kid: {"kty":"EC","crv":"P-256","kid":"k1","x":"…","y":"…"}.'),
            h('div', { class: 'actions' }, button('Cancel', close), h('button', { type: 'submit', class: 'primary' }, 'Create')),
          ],
          async (data) => {
            let jwk;
            try {
              jwk = JSON.parse(String(data.get('jwk') || ''));
            } catch {
              throw new Error('The key is not JSON: paste a JWK such as {"kty":"EC","crv":"P-256","kid":"k1","x":"…","y":"…"}.');
            }
            await api('POST', `${base}/keys`, { jwk });
            close();
            await load();
          },
        ),
      );
    });
  }
  async function load() {
    const list = await api('GET', `${base}/keys`);
    const rows = list.items.map((key) => [
      h('code', {}, key.kid),
      [key.jwk.kty, key.jwk.crv || key.jwk.alg].filter(Boolean).join(' '),
      time(key.created_at),
      key.expires_at ? time(key.expires_at) : 'never',
      button('Delete', async () => {
        if (!(await confirmAction(`Delete key ${key.kid}?`, 'Assertions signed with it are refused from now on.'))) return;
        try {
          await api('DELETE', `${base}/keys/${enc(key.kid)}`);
          await load();
        } catch (error) {
          clear(problems, notice(error.message, 'error'));
        }
      }, { class: 'danger' }),
    ]);
    clear(
      section,
      h('div', { class: 'section-head' }, h('h2', {}, 'Public keys (private_key_jwt)'), button('Add key', add)),
      table('Public keys', ['Key ID', 'Type', 'Registered', 'Expires', 'Actions'], rows, 'No registered keys.'),
      problems,
    );
  }
  await load();
  return section;
}

// `claim=pattern` lines: an object of claim name → pattern. The pattern is what
// follows the first "=", so it may hold "=" itself.
function parseClaims(text) {
  const claims = {};
  for (const [index, raw] of String(text || '').split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf('=');
    const name = at < 0 ? '' : line.slice(0, at).trim();
    const pattern = at < 0 ? '' : line.slice(at + 1).trim();
    if (!name || !pattern) throw fieldProblem('claims', `Line ${index + 1} is not claim=pattern, e.g. repository=acme/deploy.`);
    if (Object.hasOwn(claims, name)) throw fieldProblem('claims', `The claim ${name} has two conditions: give it one.`);
    claims[name] = pattern;
  }
  return claims;
}

// Federated credentials: which outside issuer's tokens stand for the account.
async function federated(base, tenant) {
  const section = h('section', { class: 'card', 'aria-labelledby': 'federated-title' });
  const heading = h('h2', { id: 'federated-title', tabindex: '-1' }, 'Federated credentials');
  const count = h('p', { class: 'visually-hidden', role: 'status' });
  const list = h('div');
  const problems = h('div');
  const ownIssuer = await issuer();

  function add() {
    modal('Add federated credential', (body, close) => {
      body.append(
        form(
          {},
          [
            field('Name', input('name', { required: true, maxlength: 64, spellcheck: 'false' }), '1–64 characters of A–Z a–z 0–9 . _ -, unique on this account.'),
            field('Issuer', input('issuer', { type: 'url', required: true, spellcheck: 'false', placeholder: 'https://token.actions.githubusercontent.com' }), 'The issuer’s URL exactly as its tokens’ iss says, with https://.'),
            field('Subject pattern', input('subject', { spellcheck: 'false', placeholder: 'repo:acme/deploy:ref:refs/heads/main' }), 'What the token’s sub must be. * stands for any run of characters.'),
            field(
              'Claim conditions',
              h('textarea', { name: 'claims', rows: 3, spellcheck: 'false', placeholder: 'environment=production' }),
              'One claim=pattern a line. Nested claims join their names with dots: kubernetes.io.namespace=shop. At least the subject or one claim must be more than *.',
            ),
            field('Audience', input('audience', { spellcheck: 'false' }), `Optional: what the token’s aud must contain. Empty: ${ownIssuer}.`),
            field('Scopes', input('scopes', { spellcheck: 'false' }), 'Optional: the most a token obtained through it may carry, separated by spaces. Empty: the account’s roles decide.'),
            field('JWKS URI', input('jwks_uri', { type: 'url', spellcheck: 'false' }), 'Optional: where the issuer’s keys are. Empty: found through the issuer’s discovery document.'),
            field(
              'Inline JWKS',
              h('textarea', { name: 'jwks', rows: 4, spellcheck: 'false', placeholder: '{"keys": [{"kty": "EC", "crv": "P-256", "kid": "…", "x": "…", "y": "…"}]}' }),
              'Optional: the issuer’s public keys as JSON, for an issuer Tessera cannot reach. Then nothing is fetched.',
            ),
            field('Accept tokens without a jti', h('input', { type: 'checkbox', name: 'allow_without_jti' }), 'Off: a token without a jti is accepted only if it lives under 10 minutes.'),
            h('div', { class: 'actions' }, button('Cancel', close), h('button', { type: 'submit', class: 'primary' }, 'Create')),
          ],
          async (data) => {
            const text = (name) => String(data.get(name) || '').trim();
            const request = { name: text('name'), issuer: text('issuer') };
            if (text('subject')) request.subject = text('subject');
            const claims = parseClaims(data.get('claims'));
            if (Object.keys(claims).length > 0) request.claims = claims;
            if (text('audience')) request.audience = text('audience');
            const scopes = splitList(data.get('scopes'));
            if (scopes.length > 0) request.scopes = scopes;
            if (text('jwks_uri')) request.jwks_uri = text('jwks_uri');
            if (text('jwks')) {
              let jwks;
              try {
                jwks = JSON.parse(text('jwks'));
              } catch {
                throw fieldProblem('jwks', 'The JWKS is not JSON: paste a JWK Set such as {"keys": [{"kty": "EC", …}]}.');
              }
              if (!jwks || typeof jwks !== 'object' || Array.isArray(jwks)) throw fieldProblem('jwks', 'The JWKS must be a JSON object: {"keys": […]}.');
              request.jwks = jwks;
            }
            if (data.get('allow_without_jti') === 'on') request.allow_without_jti = true;
            const created = await api('POST', `${base}/federated-credentials`, request);
            close();
            await load(`Federated credential ${created.name} added.`);
          },
        ),
      );
    });
  }

  async function remove(credential) {
    if (!(await confirmAction(`Delete federated credential ${credential.name}?`, `Tokens of ${credential.issuer} that it matched are refused from now on.`))) return;
    try {
      await api('DELETE', `${base}/federated-credentials/${enc(credential.id)}`);
      await load(`Federated credential ${credential.name} deleted.`);
      heading.focus();
    } catch (error) {
      clear(problems, notice(error.message, 'error'));
    }
  }

  function keySource(credential) {
    if (credential.jwks) return `Keys: inline JWKS (${(credential.jwks.keys || []).length})`;
    if (credential.jwks_uri) return ['Keys: ', h('code', {}, credential.jwks_uri)];
    return 'Keys: from the issuer’s discovery document';
  }

  async function load(message) {
    const listed = await api('GET', `${base}/federated-credentials`);
    const items = listed.items;
    const rows = items.map((credential) => {
      const claims = Object.entries(credential.claims || {});
      return [
        [h('strong', {}, credential.name), credential.allow_without_jti ? [' ', badge('jti optional', 'next')] : null],
        [h('code', {}, credential.issuer), h('p', { class: 'hint' }, keySource(credential))],
        credential.subject ? h('code', {}, credential.subject) : '—',
        claims.length ? h('ul', { class: 'plain' }, claims.map(([claim, pattern]) => h('li', {}, h('code', {}, `${claim}=${pattern}`)))) : '—',
        h('code', {}, credential.audience),
        credential.scopes ? h('span', { class: 'scopes' }, credential.scopes.map((scope) => h('code', {}, scope))) : 'all of the account’s',
        time(credential.created_at),
        button('Delete', () => remove(credential), { class: 'danger' }),
      ];
    });
    const total = `${items.length} federated ${items.length === 1 ? 'credential' : 'credentials'}.`;
    count.textContent = message ? `${message} ${total}` : total;
    clear(problems);
    clear(list, table('Federated credentials', ['Name', 'Issuer', 'Subject', 'Claims', 'Audience', 'Scopes', 'Created', 'Actions'], rows, 'No federated credentials.'));
  }

  append(section, [
    h('div', { class: 'section-head' }, heading, button('Add federated credential', add)),
    h(
      'p',
      { class: 'hint' },
      'Tokens of an outside issuer (Kubernetes, GitHub Actions, SPIFFE) that stand for this account, with no secret. ',
      h('a', { href: paths.federationTest(tenant) }, 'Test a token against them'),
      '.',
    ),
    count,
    list,
    problems,
  ]);
  await load();
  return section;
}
