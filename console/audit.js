// The audit log, newest first, with its filters and cursor paging.
import { api, enc, query } from './api.js';
import { append, badge, clear, field, form, h, input, latest, notice, pager, select, table, time } from './ui.js';

export async function auditPage(main, tenant) {
  const t = enc(tenant);
  const state = { action: '', actor: '', resource_id: '', outcome: '', history: [] };
  const results = h('section', { 'aria-label': 'Audit events' });
  const count = h('p', { class: 'visually-hidden', role: 'status' });
  const started = latest();
  async function load() {
    const current = started();
    const cursor = state.history[state.history.length - 1];
    const page = await api(
      'GET',
      `/tenants/${t}/audit-events${query({ action: state.action, actor: state.actor, resource_id: state.resource_id, outcome: state.outcome, limit: 50, cursor })}`,
    );
    if (!current()) return;
    count.textContent = `${page.items.length} ${page.items.length === 1 ? 'event' : 'events'} shown${page.next_cursor ? ', more on the next page' : ''}.`;
    clear(
      results,
      table(
        'Audit events',
        ['When', 'Actor', 'Action', 'Resource', 'Outcome', 'Status', 'Request'],
        page.items.map((event) => [
          time(event.at),
          h('code', {}, event.actor),
          h('code', {}, event.action),
          event.resource_id ? [event.resource_type, ' ', h('code', {}, event.resource_id)] : event.resource_type,
          badge(event.outcome, event.outcome === 'success' ? 'active' : 'disabled'),
          String(event.status),
          event.request_id ? h('code', {}, event.request_id) : '—',
        ]),
        'No event matches.',
      ),
      pager(page.next_cursor, state.history, (history) => {
        state.history = history;
        return load().catch((error) => results.append(notice(error.message, 'error')));
      }),
    );
  }
  const filters = form(
    { class: 'filters', role: 'search', 'aria-label': 'Filter audit events' },
    [
      field('Action', input('action', { placeholder: 'service_account.update' })),
      field('Actor', input('actor', { placeholder: 'account id' })),
      field('Resource ID', input('resource_id')),
      field('Outcome', select('outcome', [['', 'Any outcome'], ['success', 'Success'], ['failure', 'Failure']])),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter')),
    ],
    async (data) => {
      for (const name of ['action', 'actor', 'resource_id', 'outcome']) state[name] = String(data.get(name) || '').trim();
      state.history = [];
      await load();
    },
  );
  // A change of outcome applies at once, as Enter in a text field does.
  filters.querySelector('select').addEventListener('change', () => filters.requestSubmit());
  append(main, [h('h1', {}, 'Audit log'), h('p', { class: 'lead' }, 'Every change, and every refused attempt, newest first.'), filters, count, results]);
  await load();
}
