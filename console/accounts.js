// Service accounts: search, filters, cursor paging, and the "Add → Service User"
// wizard (an account and its first API token in two steps).
import { api, enc, query } from './api.js';
import {
  append, badge, button, clear, expirations, field, form, h, input, latest, modal, notice, pager, paths, revealSecret,
  select, showError, splitCommas, table, time, uid,
} from './ui.js';

const wizardRoles = [
  ['admin', 'Admin'],
  ['manager', 'Manager'],
  ['editor', 'Editor'],
  ['member', 'Member'],
];

export async function accountsPage(main, tenant) {
  append(main, [
    h('h1', {}, 'Service accounts'),
    h('p', { class: 'lead' }, 'Service users authenticate with a client secret, an API token or a registered key. Every one carries the Service badge.'),
  ]);
  await accountList(main, tenant);
}

// The list of service users with its search, filters, paging and the Add menu;
// the Service accounts page and the Settings page's Security tab both show it.
export async function accountList(container, tenant) {
  const t = enc(tenant);
  const roles = await api('GET', `/tenants/${t}/roles`);
  const results = h('section', { 'aria-label': 'Service users' });
  const count = h('p', { class: 'visually-hidden', role: 'status' });
  const state = { name_prefix: '', role: '', status: '', history: [] };

  const started = latest();
  async function load() {
    const current = started();
    const cursor = state.history[state.history.length - 1];
    const page = await api(
      'GET',
      `/tenants/${t}/service-accounts${query({ name_prefix: state.name_prefix, role: state.role, status: state.status, limit: 20, cursor })}`,
    );
    if (!current()) return;
    count.textContent = `${page.items.length} service ${page.items.length === 1 ? 'account' : 'accounts'} shown${page.next_cursor ? ', more on the next page' : ''}.`;
    clear(
      results,
      table(
        'Service users',
        ['Name', 'Type', 'Roles', 'Status', 'Last used', 'Created'],
        page.items.map((account) => [
          h('a', { href: paths.account(tenant, account.id) }, account.name),
          badge('Service'),
          account.roles.join(', '),
          badge(account.status === 'active' ? 'Active' : 'Disabled', account.status),
          time(account.last_used_at),
          time(account.created_at),
        ]),
        'No service account matches.',
      ),
      pager(page.next_cursor, state.history, (history) => {
        state.history = history;
        return load().catch((error) => results.append(notice(error.message, 'error')));
      }),
    );
  }

  const filters = form(
    { class: 'filters', role: 'search', 'aria-label': 'Find service users' },
    [
      field('Search by name', input('name_prefix', { type: 'search', placeholder: 'Name starts with…' })),
      field('Role', select('role', [['', 'Any role'], ...roles.items.map((role) => [role.name, role.name])])),
      field('Status', select('status', [['', 'Any status'], ['active', 'Active'], ['disabled', 'Disabled']])),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search')),
    ],
    async (data) => {
      state.name_prefix = String(data.get('name_prefix') || '').trim();
      state.role = String(data.get('role') || '');
      state.status = String(data.get('status') || '');
      state.history = [];
      await load();
    },
  );
  // A change of filter applies at once, as pressing Enter in the search box does.
  for (const control of filters.querySelectorAll('select')) control.addEventListener('change', () => filters.requestSubmit());

  const menuId = uid('add-menu');
  const menu = h('ul', { class: 'menu', role: 'menu', hidden: true, id: menuId, 'aria-label': 'Add' });
  const add = button('Add', () => toggleMenu(), { 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': menuId });
  const serviceUser = h(
    'li',
    { role: 'none' },
    button(
      'Service User',
      () => {
        toggleMenu(false);
        wizard(tenant, roles.items, () => load());
      },
      { role: 'menuitem' },
    ),
  );
  menu.append(serviceUser);
  function toggleMenu(open = menu.hidden) {
    menu.hidden = !open;
    add.setAttribute('aria-expanded', String(open));
    if (open) serviceUser.querySelector('button').focus();
  }
  menu.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      toggleMenu(false);
      add.focus();
    }
  });

  append(container, [h('div', { class: 'toolbar' }, filters, h('div', { class: 'add' }, add, menu)), count, results]);
  await load();
}

// Qualytics' two-step wizard: the service user, then its token, then the token shown once.
export function wizard(tenant, catalogue, done) {
  const t = enc(tenant);
  const known = new Set(catalogue.map((role) => role.name));
  const choices = wizardRoles.filter(([name]) => known.has(name));
  const draft = { name: '', role: 'member', teams: '', tokenName: '', expiration: '90', scim: false, account: null };

  const { dialog } = modal('Add Service User', (body, close, heading) => {
    const step = h('p', { class: 'step', 'aria-live': 'polite' });
    const content = h('div');
    append(body, [step, content]);

    function stepOne() {
      step.textContent = 'Step 1 of 2: the service user';
      const teams = input('groups', { value: draft.teams, placeholder: 'e.g. data, finance' });
      const one = form(
        {},
        [
          field('Name', input('name', { value: draft.name, required: true, maxlength: 100 })),
          field('Role', select('roles', choices)),
          field('Teams', teams, 'Separate teams with commas. Public is always included.'),
          h('div', { class: 'actions' }, button('Cancel', close), h('button', { type: 'submit', class: 'primary' }, 'Next')),
        ],
        async (data) => {
          draft.name = String(data.get('name') || '').trim();
          draft.role = String(data.get('roles'));
          draft.teams = String(data.get('groups') || '');
          if (!draft.name) throw Object.assign(new Error('Enter a name.'), {});
          stepTwo();
        },
      );
      one.querySelector('select[name=roles]').value = draft.role;
      clear(content, one);
      one.querySelector('input[name=name]').focus();
    }

    function stepTwo() {
      step.textContent = 'Step 2 of 2: the token';
      const grantsScim = (catalogue.find((role) => role.name === draft.role)?.scopes || []).includes('scim');
      const expiration = select('expires_in_days', expirations);
      expiration.value = draft.expiration;
      const two = form(
        {},
        [
          field('Name', input('token_name', { value: draft.tokenName, required: true, maxlength: 100 }), 'Unique among this service user’s tokens.'),
          field('Expiration', expiration),
          field('Type', input('type', { value: 'Service', readonly: true })),
          field('Service User', input('service_user', { value: draft.name, readonly: true })),
          field(
            'SCIM Administration Token',
            h('input', { type: 'checkbox', name: 'scim', checked: draft.scim && grantsScim, disabled: !grantsScim }),
            grantsScim ? 'The token may only call the SCIM API.' : `The ${draft.role} role grants no SCIM access, so a SCIM token could do nothing.`,
          ),
          h(
            'div',
            { class: 'actions' },
            draft.account ? null : button('Back', () => {
              draft.tokenName = two.querySelector('[name=token_name]').value;
              stepOne();
            }),
            h('button', { type: 'submit', class: 'primary' }, 'Finish'),
          ),
        ],
        async (data) => {
          draft.tokenName = String(data.get('token_name') || '').trim();
          draft.expiration = String(data.get('expires_in_days'));
          draft.scim = data.get('scim') === 'on';
          if (!draft.account) {
            const groups = ['Public', ...splitCommas(draft.teams).filter((team) => team.toLowerCase() !== 'public')];
            try {
              draft.account = await api('POST', `/tenants/${t}/service-accounts`, {
                name: draft.name,
                roles: [draft.role],
                groups,
                issue_secret: false,
              });
            } catch (error) {
              // The account's own fields are on step one.
              stepOne();
              showError(content.querySelector('form'), error, { groups: 'groups', roles: 'roles', name: 'name' });
              return;
            }
          }
          const body = { name: draft.tokenName };
          if (draft.expiration) body.expires_in_days = Number(draft.expiration);
          if (draft.scim) body.scopes = ['scim'];
          try {
            const token = await api('POST', `/tenants/${t}/service-accounts/${enc(draft.account.id)}/api-tokens`, body);
            finish(token);
          } catch (error) {
            stepTwo();
            showError(content.querySelector('form'), error, { name: 'token_name', expires_in_days: 'expires_in_days', scopes: 'scim' });
          }
        },
      );
      clear(content, two);
      two.querySelector('input[name=token_name]').focus();
    }

    function finish(token) {
      heading.textContent = 'Service User created';
      step.textContent = `${draft.name} now exists with the ${draft.role} role.`;
      clear(
        content,
        revealSecret('API token', token.token, `${draft.name}-${draft.tokenName}.token`),
        h('div', { class: 'actions' }, button('Done', close, { class: 'primary' })),
      );
      content.querySelector('textarea')?.focus();
    }

    stepOne();
  });
  // However the dialog closes, a service user made in it shows in the list.
  dialog.addEventListener('close', () => {
    if (draft.account) done();
  });
}
