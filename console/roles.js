// The role catalogue: built-in roles, and custom roles created, changed and deleted.
import { api, enc } from './api.js';
import { append, badge, button, clear, confirmAction, field, form, h, input, modal, notice, splitList, table } from './ui.js';

export async function rolesPage(main, tenant) {
  const t = enc(tenant);
  const list = h('section', { 'aria-label': 'Roles' });
  const problems = h('div');
  async function load() {
    const roles = await api('GET', `/tenants/${t}/roles`);
    clear(
      list,
      table(
        'Roles',
        ['Role', 'Scopes', 'Kind', 'Actions'],
        roles.items.map((role) => [
          h('strong', {}, role.name),
          h('span', { class: 'scopes' }, role.scopes.map((scope) => h('code', {}, scope))),
          role.builtin ? badge('Built in') : badge('Custom', 'active'),
          role.builtin
            ? '—'
            : h(
                'div',
                { class: 'row-actions' },
                button('Edit', () => edit(role)),
                button('Delete', async () => {
                  if (!(await confirmAction(`Delete role ${role.name}?`, 'A role that an account still holds cannot be deleted.'))) return;
                  try {
                    await api('DELETE', `/tenants/${t}/roles/${enc(role.name)}`);
                    clear(problems);
                    await load();
                  } catch (error) {
                    clear(problems, notice(error.message, 'error'));
                  }
                }, { class: 'danger' }),
              ),
        ]),
      ),
    );
  }
  function edit(role) {
    modal(`Edit role ${role.name}`, (body, close) => {
      body.append(
        form(
          {},
          [
            field('Scopes', input('scopes', { value: role.scopes.join(' ') }), 'Separate scopes with spaces.'),
            h('div', { class: 'actions' }, button('Cancel', close), h('button', { type: 'submit', class: 'primary' }, 'Save')),
          ],
          async (data) => {
            await api('PUT', `/tenants/${t}/roles/${enc(role.name)}`, { scopes: splitList(data.get('scopes')) });
            close();
            await load();
          },
        ),
      );
    });
  }
  function create() {
    modal('Create role', (body, close) => {
      body.append(
        form(
          {},
          [
            field('Name', input('name', { required: true, maxlength: 100 }), 'Lowercase letters, digits and _ . : -, e.g. billing.'),
            field('Scopes', input('scopes'), 'Separate scopes with spaces, e.g. invoices:read invoices:write.'),
            h('div', { class: 'actions' }, button('Cancel', close), h('button', { type: 'submit', class: 'primary' }, 'Create')),
          ],
          async (data) => {
            await api('POST', `/tenants/${t}/roles`, { name: String(data.get('name') || '').trim(), scopes: splitList(data.get('scopes')) });
            close();
            await load();
          },
        ),
      );
    });
  }
  append(main, [
    h('div', { class: 'page-head' }, h('h1', {}, 'Roles and scopes'), button('Create role', create, { class: 'primary' })),
    h('p', { class: 'lead' }, 'An account’s tokens carry the scopes of its roles.'),
    problems,
    list,
  ]);
  await load();
}
