// DOM helpers. Every text goes in through textContent or attributes, never as HTML,
// so nothing a server or a user wrote can run as markup.
import { ApiError } from './api.js';

let counter = 0;
export const uid = (prefix) => `${prefix}-${++counter}`;

export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'class') node.className = value;
    else if (name === 'value') node.value = value;
    else if (name === 'checked') node.checked = Boolean(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

// A labelled control with a slot for the error the API gives about it. `control`
// carries the `name` that the API's problem `field` member names.
export function field(label, control, hint) {
  const id = control.id || uid('f');
  control.id = id;
  const errorId = `${id}-error`;
  const described = [errorId];
  let hintNode = null;
  if (hint) {
    hintNode = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    described.unshift(hintNode.id);
  }
  control.setAttribute('aria-describedby', described.join(' '));
  const checkbox = control.type === 'checkbox';
  return h(
    'div',
    { class: checkbox ? 'field checkbox' : 'field' },
    checkbox ? [control, h('label', { for: id }, label)] : [h('label', { for: id }, label), control],
    hintNode,
    h('p', { class: 'field-error', id: errorId, hidden: true }),
  );
}

export const input = (name, attributes = {}) => h('input', { name, type: 'text', autocomplete: 'off', ...attributes });

export function select(name, options, attributes = {}) {
  return h(
    'select',
    { name, ...attributes },
    options.map(([value, text]) => h('option', { value }, text)),
  );
}

export function button(text, onclick, attributes = {}) {
  return h('button', { type: 'button', onclick, ...attributes }, text);
}

// A form whose submit handler runs with errors shown: a problem naming a field
// appears under that field, any other error at the top of the form.
export function form(attributes, children, onsubmit) {
  const status = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const node = h('form', { novalidate: true, ...attributes }, status, children);
  node.addEventListener('submit', async (event) => {
    event.preventDefault();
    resetErrors(node);
    const submit = node.querySelector('button[type=submit]');
    if (submit) submit.disabled = true;
    try {
      await onsubmit(new FormData(node), node);
    } catch (error) {
      showError(node, error);
    } finally {
      if (submit && submit.isConnected) submit.disabled = false;
    }
  });
  return node;
}

export function resetErrors(node) {
  for (const slot of node.querySelectorAll('.field-error, .form-error')) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const control of node.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

// Shows an error next to the control it names, or at the top of `node`.
export function showError(node, error, fieldAliases = {}) {
  const message = errorText(error);
  const name = error instanceof ApiError && error.field ? fieldAliases[error.field] || error.field : null;
  const control = name ? node.querySelector(`[name="${CSS.escape(name)}"]`) : null;
  if (control) {
    const slot = node.querySelector(`#${CSS.escape(control.id)}-error`);
    control.setAttribute('aria-invalid', 'true');
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
      control.focus();
      return;
    }
  }
  const status = node.querySelector('.form-error') || node;
  status.textContent = message;
  status.hidden = false;
}

// An error the console finds in a form before sending it, shown next to the control
// named `field` as the API's own problems are.
export const fieldProblem = (field, detail) => new ApiError(400, { detail, field });

export function errorText(error) {
  if (error instanceof ApiError) {
    if (error.status === 0) return error.message;
    return error.message;
  }
  return error && error.message ? error.message : String(error);
}

export function notice(text, kind = 'info') {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function formatDate(value) {
  if (!value) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/:\d\dZ$/, ' UTC');
}

export function time(value) {
  return value ? h('time', { datetime: value }, formatDate(value)) : '—';
}

export function table(caption, columns, rows, empty = 'Nothing here yet.') {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column)))),
      h(
        'tbody',
        {},
        rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell)))),
      ),
    ),
  );
}

export const badge = (text, kind = '') => h('span', { class: `badge ${kind}`.trim() }, text);

// A modal dialog (the platform's <dialog>: focus stays inside, Escape closes it).
export function modal(title, build) {
  const heading = h('h2', { id: uid('dialog-title') }, title);
  const body = h('div', { class: 'dialog-body' });
  const dialog = h('dialog', { 'aria-labelledby': heading.id, class: 'modal' }, heading, body);
  const close = () => dialog.close();
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  build(body, close, heading);
  dialog.showModal();
  const first = dialog.querySelector('input:not([readonly]):not([disabled]), select, textarea, button');
  if (first) first.focus();
  return { dialog, close };
}

// Asks before a destructive action; resolves to true when "Delete" is pressed.
export function confirmAction(title, text, action = 'Delete') {
  return new Promise((resolve) => {
    let answer = false;
    const { dialog } = modal(title, (body, close) => {
      append(body, [
        h('p', {}, text),
        h(
          'div',
          { class: 'actions' },
          button('Cancel', close),
          button(
            action,
            () => {
              answer = true;
              close();
            },
            { class: 'danger' },
          ),
        ),
      ]);
    });
    dialog.addEventListener('close', () => resolve(answer));
  });
}

// A secret shown once, with copy and download.
export function revealSecret(label, value, filename) {
  const id = uid('secret');
  const status = h('p', { role: 'status', class: 'hint' });
  const area = h('textarea', { id, readonly: true, rows: 2, class: 'secret', spellcheck: 'false' });
  area.value = value;
  return h(
    'div',
    { class: 'reveal' },
    h('p', { class: 'notice warning', role: 'alert' }, 'Copy this now: it is shown only once and cannot be seen again.'),
    h('label', { for: id }, label),
    area,
    h(
      'div',
      { class: 'actions' },
      button('Copy', async () => {
        try {
          await navigator.clipboard.writeText(value);
          status.textContent = 'Copied to the clipboard.';
        } catch {
          area.select();
          status.textContent = 'Select the text and copy it with your keyboard.';
        }
      }),
      button('Download', () => {
        const url = URL.createObjectURL(new Blob([value + '\n'], { type: 'text/plain' }));
        const link = h('a', { href: url, download: filename });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
        status.textContent = `Saved as ${filename}.`;
      }),
    ),
    status,
  );
}

// Expiry choices shared by secrets and API tokens (the API's expires_in_days).
export const expirations = [
  ['30', '30 days'],
  ['60', '60 days'],
  ['90', '90 days'],
  ['365', '1 year'],
  ['', 'Never'],
];

// For a list that loads again when its filters change: `const started = latest();`,
// then in each load `const current = started();` before the request and
// `if (!current()) return;` after it. Loads that overlap (a filter submitted while the
// first page still loads) are answered in any order; only the last one started shows.
export function latest() {
  let last = 0;
  return () => {
    const mine = ++last;
    return () => mine === last;
  };
}

// Previous and Next over cursor pages; after a page loads, the focus goes back to
// the pager, which is rebuilt with the new page.
export function pager(nextCursor, history, go) {
  const turn = async (pages, name) => {
    await go(pages);
    const buttons = [...document.querySelectorAll('nav.pager button')];
    (buttons.find((b) => b.textContent === name && !b.disabled) || buttons.find((b) => !b.disabled))?.focus();
  };
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    button('Previous page', () => turn(history.slice(0, -1), 'Previous page'), { disabled: history.length === 0 }),
    button('Next page', () => turn([...history, nextCursor], 'Next page'), { disabled: !nextCursor }),
  );
}

// Comma-separated names, which may hold spaces ("Data Engineering, Analytics").
export function splitCommas(text) {
  return String(text || '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

// Space- or comma-separated words (scopes, URLs).
export function splitList(text) {
  return String(text || '')
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter(Boolean);
}

// The console's own paths: every page has a URL under /console that can be
// reloaded or bookmarked. `go` changes page without reloading.
export const paths = {
  accounts: (tenant) => `/console/tenants/${encodeURIComponent(tenant)}/service-accounts`,
  account: (tenant, id) => `/console/tenants/${encodeURIComponent(tenant)}/service-accounts/${encodeURIComponent(id)}`,
  settings: (tenant) => `/console/tenants/${encodeURIComponent(tenant)}/settings`,
  roles: (tenant) => `/console/tenants/${encodeURIComponent(tenant)}/roles`,
  audit: (tenant) => `/console/tenants/${encodeURIComponent(tenant)}/audit-log`,
  tryIt: (tenant) => `/console/tenants/${encodeURIComponent(tenant)}/try-it`,
  federationTest: (tenant) => `/console/tenants/${encodeURIComponent(tenant)}/federation-test`,
  keys: () => '/console/signing-keys',
  tenants: () => '/console/tenants',
};

export function go(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event('console:navigate'));
}
