// The issuer's signing keys (super admins): their states and dates, and "rotate now"
// under the rule the CLI follows: a new key is published before it signs.
import { api } from './api.js';
import { append, badge, button, clear, h, notice, table, time } from './ui.js';

export async function keysPage(main) {
  const list = h('section', { 'aria-label': 'Signing keys' });
  const status = h('div', { role: 'status', class: 'status-line' });
  async function load() {
    const keys = await api('GET', '/signing-keys');
    clear(
      list,
      table(
        'Signing keys',
        ['Key ID', 'Algorithm', 'State', 'Created', 'Signs from', 'Retired'],
        keys.items.map((key) => [
          h('code', {}, key.kid),
          key.alg,
          badge(key.state, key.state === 'active' ? 'active' : key.state === 'retired' ? 'disabled' : 'next'),
          time(key.created_at),
          time(key.activated_at || key.activates_at),
          time(key.retired_at),
        ]),
      ),
    );
  }
  // Safe to press at any time, so it asks nothing: a new key is only published, and
  // signs once verifiers have had time to fetch it.
  const rotate = button('Rotate now', async () => {
    try {
      const change = await api('POST', '/signing-keys/rotate');
      const when = change.activates_at ? ` It signs from ${new Date(change.activates_at).toISOString()}.` : '';
      status.textContent = `Key ${change.kid}: ${change.result}.${when}`;
      await load();
    } catch (error) {
      status.replaceChildren(notice(error.message, 'error'));
    }
  }, { class: 'primary' });
  append(main, [
    h('div', { class: 'page-head' }, h('h1', {}, 'Signing keys'), rotate),
    h('p', { class: 'lead' }, 'The keys the issuer signs with and publishes at /.well-known/jwks.json. Key material never leaves the server.'),
    h(
      'p',
      {},
      'Rotate now publishes a new key at once; it signs only after the JWKS max-age plus 10 seconds, so that every verifier has fetched it first. Pressed again after that, it makes the new key sign at once. The old key stays published until its tokens expire.',
    ),
    status,
    list,
  ]);
  await load();
}
