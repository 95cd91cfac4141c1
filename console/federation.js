// "Federation test": the dry run of docs/federation.md. A token from an outside
// issuer is checked against the tenant's federated credentials: which one would
// accept it, and why the others would not. Nothing is issued and the token's jti is
// not spent.
import { api, enc } from './api.js';
import { append, badge, clear, field, form, formatDate, h, input, paths, table } from './ui.js';

// A NumericDate (seconds since 1970) as a date, with the number itself.
function numericDate(seconds) {
  if (typeof seconds !== 'number') return 'none';
  const date = new Date(seconds * 1000);
  if (Number.isNaN(date.getTime())) return String(seconds);
  const iso = date.toISOString();
  return [h('time', { datetime: iso }, formatDate(iso)), ` (${seconds})`];
}

const code = (value) => (value === null || value === undefined || value === '' ? 'none' : h('code', {}, value));

function account(tenant, candidate) {
  const label = candidate.client_id || candidate.service_account_id;
  return h('a', { href: paths.account(tenant, candidate.service_account_id) }, h('code', {}, label));
}

export async function federationTestPage(main, tenant) {
  const t = enc(tenant);
  // Says the outcome in one sentence when a test ends; the details follow it.
  const verdict = h('p', { role: 'status', class: 'visually-hidden' });
  const output = h('div', { class: 'federation-result' });

  function show(result, clientId) {
    const token = result.token || {};
    const candidates = result.candidates || [];
    const matched = result.matched;
    const summary = h(
      'dl',
      { class: 'facts' },
      [
        ['Issuer (iss)', code(token.iss)],
        ['Subject (sub)', code(token.sub)],
        ['Audience (aud)', (token.aud || []).length ? h('ul', { class: 'plain' }, token.aud.map((value) => h('li', {}, h('code', {}, value)))) : 'none'],
        ['Expires (exp)', numericDate(token.exp)],
        token.iat !== undefined ? ['Issued (iat)', numericDate(token.iat)] : null,
        token.jti !== undefined ? ['Token ID (jti)', code(token.jti)] : null,
      ]
        .filter(Boolean)
        .map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
    );
    const outcome = matched
      ? h(
          'p',
          { class: 'notice match' },
          'Matches credential ',
          h('strong', {}, matched.credential_name),
          ' of account ',
          account(tenant, matched),
          '.',
        )
      : h(
          'p',
          { class: 'notice error' },
          candidates.length
            ? 'No credential matches: the reasons are below.'
            : clientId
              ? `No credential matches: account ${clientId} has no federated credential that trusts ${token.iss}.`
              : `No credential matches: no federated credential of this tenant trusts ${token.iss}.`,
        );
    verdict.textContent = matched
      ? `Matches credential ${matched.credential_name} of account ${matched.client_id || matched.service_account_id}.`
      : `No credential matches. ${candidates.length} ${candidates.length === 1 ? 'candidate' : 'candidates'}.`;
    clear(
      output,
      h('section', { 'aria-labelledby': 'federation-outcome', class: 'card' }, h('h2', { id: 'federation-outcome' }, 'Result'), outcome),
      h('section', { 'aria-labelledby': 'federation-token', class: 'card' }, h('h2', { id: 'federation-token' }, 'Decoded token'), summary),
      h(
        'section',
        { 'aria-labelledby': 'federation-candidates', class: 'card' },
        h('h2', { id: 'federation-candidates' }, 'Candidates'),
        h('p', { class: 'hint' }, 'Every credential of this tenant whose issuer is the token’s iss.'),
        table(
          'Candidates',
          ['Account', 'Credential', 'Matches', 'Reasons'],
          candidates.map((candidate) => [
            account(tenant, candidate),
            candidate.credential_name,
            candidate.matches ? badge('Yes', 'active') : badge('No', 'disabled'),
            candidate.reasons && candidate.reasons.length
              ? h('ul', { class: 'reasons' }, candidate.reasons.map((reason) => h('li', {}, reason)))
              : '—',
          ]),
          'No candidates: no credential of this tenant trusts this issuer.',
        ),
      ),
    );
  }

  const ask = form(
    { class: 'card', 'aria-label': 'Test a token' },
    [
      field(
        'Token',
        h('textarea', { name: 'token', rows: 6, required: true, spellcheck: 'false', autocomplete: 'off', class: 'token' }),
        'A JWT from the outside issuer: a Kubernetes service-account token, a GitHub Actions OIDC token, a SPIFFE JWT-SVID.',
      ),
      field('Client ID', input('client_id', { spellcheck: 'false' }), 'Optional: test only the credentials of this account.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Test')),
    ],
    async (data) => {
      clear(output);
      verdict.textContent = '';
      const request = { token: String(data.get('token') || '').trim() };
      const clientId = String(data.get('client_id') || '').trim();
      if (clientId) request.client_id = clientId;
      show(await api('POST', `/tenants/${t}/federated-credentials:test`, request), clientId);
    },
  );

  append(main, [
    h('h1', {}, 'Federation test'),
    h(
      'p',
      { class: 'lead' },
      'See which federated credential would accept a token, and why the others would not. Nothing is issued and the token is not used up.',
    ),
    ask,
    verdict,
    output,
  ]);
}
