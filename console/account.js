// One service account: its settings, status, deletion, client secrets, API tokens and
// the public keys it registered for private_key_jwt.
import { api, enc } from './api.js';
import {
  append, badge, button, clear, confirmAction, expirations, field, form, go, h, input, modal, notice, paths, revealSecret,
  select, splitCommas, splitList, table, time,
} from './ui.js';

export async function accountPage(main, tenant, id) {
  const t = enc(tenant);
  const base = `/tenants/${t}/service-accounts/${enc(id)}`;
  const [account, roles] = await Promise.all([api('GET', base), api('GET', `/tenants/${t}/roles`)]);
  const status = h('div', { role: 'status', class: 'status-line' });
  const expired = account.expires_at && new Date(account.expires_at) <= new Date();
  const reload = async (message) => {
    clear(main);
    await accountPage(main, tenant, id);
    if (message) main.querySelector('.status-line').textContent = message;
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
    await credentials(base, { path: 'secrets', title: 'Client secrets', noun: 'secret', label: 'Client secret', value: 'client_secret', off: 'Disable' }),
    await credentials(base, { path: 'api-tokens', title: 'API tokens', noun: 'API token', label: 'API token', value: 'token', off: 'Revoke' }),
    await keys(base),
  ]);
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
