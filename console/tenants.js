// Tenants (super admins): their limits and default audience, changed and created.
import { api, enc } from './api.js';
import { append, button, clear, field, form, h, input, modal, paths, table, time } from './ui.js';

function numberOrNull(value) {
  const text = String(value || '').trim();
  return text ? Number(text) : null;
}

export async function tenantsPage(main) {
  const list = h('section', { 'aria-label': 'Tenants' });
  async function load() {
    const tenants = { items: [] };
    let cursor = null;
    do {
      const page = await api('GET', `/tenants?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      tenants.items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    clear(
      list,
      table(
        'Tenants',
        ['Slug', 'Name', 'Account limit', 'Token lifetime', 'Default audience', 'Created', 'Actions'],
        tenants.items.map((tenant) => [
          h('a', { href: paths.accounts(tenant.slug) }, tenant.slug),
          tenant.name,
          tenant.account_limit ?? 'none',
          tenant.token_lifetime ? `${tenant.token_lifetime} s` : 'default',
          tenant.default_audience || 'the issuer',
          time(tenant.created_at),
          button('Edit', () => edit(tenant)),
        ]),
      ),
    );
  }
  function edit(tenant) {
    modal(`Change tenant ${tenant.slug}`, (body, close) => {
      body.append(
        form(
          { 'aria-label': `Tenant ${tenant.slug}` },
          [
            field('Name', input('name', { value: tenant.name, required: true })),
            field('Account limit', input('account_limit', { type: 'number', min: 0, value: tenant.account_limit ?? '' }), 'Empty: no limit.'),
            field('Token lifetime (seconds)', input('token_lifetime', { type: 'number', min: 60, max: 86400, value: tenant.token_lifetime ?? '' }), 'Empty: the server default.'),
            field('Default audience', input('default_audience', { value: tenant.default_audience ?? '' }), 'Empty: the issuer URL.'),
            h('div', { class: 'actions' }, button('Cancel', close), h('button', { type: 'submit', class: 'primary' }, 'Save')),
          ],
          async (data) => {
            const audience = String(data.get('default_audience') || '').trim();
            await api('PATCH', `/tenants/${enc(tenant.id)}`, {
              name: String(data.get('name') || '').trim(),
              account_limit: numberOrNull(data.get('account_limit')),
              token_lifetime: numberOrNull(data.get('token_lifetime')),
              default_audience: audience || null,
            });
            close();
            await load();
          },
        ),
      );
    });
  }
  const create = form(
    { 'aria-label': 'New tenant', class: 'card inline' },
    [
      h('h2', {}, 'New tenant'),
      field('Slug', input('slug', { required: true, spellcheck: 'false' }), 'Lowercase letters, digits and dashes.'),
      field('Tenant name', input('name')),
      field('Account limit', input('account_limit', { type: 'number', min: 0 })),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create tenant')),
    ],
    async (data, node) => {
      const body = { slug: String(data.get('slug') || '').trim() };
      const name = String(data.get('name') || '').trim();
      if (name) body.name = name;
      const limit = numberOrNull(data.get('account_limit'));
      if (limit !== null) body.account_limit = limit;
      await api('POST', '/tenants', body);
      node.reset();
      await load();
    },
  );
  append(main, [h('h1', {}, 'Tenants'), list, create]);
  await load();
}
