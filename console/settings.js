// Settings: the Security tab holds the service users and the Add → Service User
// wizard (where Qualytics keeps them); the Tenant tab shows this tenant's settings.
import { append, clear, h, notice, time, uid } from './ui.js';
import { accountList } from './accounts.js';

export async function settingsPage(main, tenant, who) {
  const tabs = [
    ['Security', async (panel) => {
      append(panel, [h('h2', {}, 'Service users'), h('p', { class: 'lead' }, 'Accounts for machines: each gets a token or a secret, never a password.')]);
      await accountList(panel, tenant);
    }],
    ['Tenant', async (panel) => {
      const own = who.tenant.slug === tenant || who.tenant.id === tenant;
      if (!own) {
        panel.append(h('p', {}, `Tenant ${tenant}: its settings are on the Tenants page.`));
        return;
      }
      const t = who.tenant;
      panel.append(
        h('h2', {}, 'Tenant'),
        h(
          'dl',
          { class: 'facts' },
          [
            ['Slug', h('code', {}, t.slug)],
            ['Name', t.name],
            ['Tenant ID', h('code', {}, t.id)],
            ['Account limit', t.account_limit ?? 'none'],
            ['Token lifetime', t.token_lifetime ? `${t.token_lifetime} s` : 'the server default'],
            ['Default audience', t.default_audience || 'the issuer'],
            ['Created', time(t.created_at)],
          ].map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
        ),
      );
    }],
  ];
  const list = h('div', { role: 'tablist', 'aria-label': 'Settings', class: 'tabs' });
  const panel = h('section', { role: 'tabpanel', class: 'tab-panel' });
  const buttons = tabs.map(([name], index) => {
    const id = uid('tab');
    return h('button', { type: 'button', role: 'tab', id, 'aria-selected': 'false', tabindex: '-1', onclick: () => select(index), onkeydown: (event) => keys(event, index) }, name);
  });
  list.append(...buttons);
  // Each tab fills a panel of its own, shown only if it is still the chosen tab when
  // it is ready, so a quick change of tab never mixes two tabs' contents.
  let chosen = 0;
  async function select(index) {
    chosen = index;
    buttons.forEach((tab, i) => {
      tab.setAttribute('aria-selected', String(i === index));
      tab.tabIndex = i === index ? 0 : -1;
    });
    panel.setAttribute('aria-labelledby', buttons[index].id);
    const content = h('div');
    try {
      await tabs[index][1](content);
    } catch (error) {
      clear(content, notice(error.message, 'error'));
    }
    if (chosen === index) clear(panel, content);
  }
  // Arrow keys move between tabs, as the ARIA tabs pattern has it.
  function keys(event, index) {
    const next = event.key === 'ArrowRight' ? index + 1 : event.key === 'ArrowLeft' ? index - 1 : null;
    if (next === null) return;
    const target = (next + buttons.length) % buttons.length;
    buttons[target].focus();
    select(target);
  }
  append(main, [h('h1', {}, 'Settings'), list, panel]);
  await select(0);
}
