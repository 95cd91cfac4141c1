// "Try it": a token for any account's credentials, with its header and claims decoded.
// The credentials go to the token endpoint only and are kept nowhere.
import { requestToken } from './api.js';
import { append, clear, field, form, h, input } from './ui.js';

function decodePart(part) {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

export async function tryItPage(main) {
  const output = h('section', { 'aria-label': 'Token', 'aria-live': 'polite' });
  const ask = form(
    { class: 'card', 'aria-label': 'Get a token' },
    [
      field('Client ID', input('client_id', { required: true, spellcheck: 'false' })),
      field('Client secret', input('client_secret', { type: 'password', required: true, autocomplete: 'off' })),
      field('Scope', input('scope'), 'Optional: the scopes to ask for, separated by spaces.'),
      field('Resource', input('resource', { type: 'url' }), 'Optional: the resource server the token is for.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Get token')),
    ],
    async (data) => {
      clear(output);
      const answer = await requestToken(String(data.get('client_id') || '').trim(), String(data.get('client_secret') || ''), {
        scope: String(data.get('scope') || '').trim(),
        resource: String(data.get('resource') || '').trim(),
      });
      const [header, claims] = answer.access_token.split('.').slice(0, 2).map(decodePart);
      const block = (title, value) => h('div', { class: 'decoded' }, h('h3', {}, title), h('pre', { tabindex: '0' }, value));
      append(output, [
        h('h2', {}, 'Token'),
        h('p', {}, `${answer.token_type} token, valid ${answer.expires_in} s, scopes: ${answer.scope || '—'}`),
        block('Header', JSON.stringify(header, null, 2)),
        block('Claims', JSON.stringify(claims, null, 2)),
        block('Encoded', answer.access_token),
      ]);
    },
  );
  append(main, [
    h('h1', {}, 'Try it'),
    h('p', { class: 'lead' }, 'Obtain a token with an account’s client ID and secret and see what it carries. Nothing is stored.'),
    ask,
    output,
  ]);
}
