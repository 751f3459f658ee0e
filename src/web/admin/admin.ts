/**
 * The admin page: asks for an API key once (kept in sessionStorage, so it leaves with the tab),
 * then polls /api/channels every second, and the selected channel's members. Rows are updated in
 * place, keyed by channel, so keyboard focus and screen-reader position survive each refresh.
 */
import type { ChannelDetail, ChannelSummary } from '../../wire/api.js';
import { byId as $ } from '../dom.js';

interface Row {
  tr: HTMLTableRowElement;
  button: HTMLButtonElement;
  cells: { members: HTMLElement; connections: HTMLElement; rate: HTMLElement; activity: HTMLElement };
  /** The channel's seq and when it was read: the message rate is how fast seq grows. */
  seq: number;
  at: number;
}

const POLL_MS = 1_000;
const KEY_STORE = 'rooms-admin-key';

class Refused extends Error {}

/** The server has no apiKeys: the message says how to turn the API on. */
class ApiOff extends Error {}

const ui = {
  login: $<HTMLFormElement>('login'),
  key: $<HTMLInputElement>('key'),
  loginError: $('login-error'),
  apiOff: $('api-off'),
  apiOffMessage: $('api-off-message'),
  forget: $<HTMLButtonElement>('forget'),
  dashboard: $('dashboard'),
  updated: $('updated'),
  notice: $('notice'),
  channels: $<HTMLTableSectionElement>('channels'),
  noChannels: $('no-channels'),
  membersSection: $('members-section'),
  membersTitle: $('members-title'),
  members: $<HTMLUListElement>('members'),
  noMembers: $('no-members'),
};

const rows = new Map<string, Row>();
let selected: ChannelSummary | null = null;
let shownMembers = '';
let timer: number | undefined;

function apiKey(): string | null {
  return sessionStorage.getItem(KEY_STORE);
}

/** The API path of a channel: its path without the leading slash, encoded as one segment. */
function channelUrl(c: { path: string; id: string }): string {
  return `/api/channels/${encodeURIComponent(c.path.slice(1))}/${encodeURIComponent(c.id)}`;
}

async function get<T>(url: string): Promise<T | null> {
  const key = apiKey();
  const res = await fetch(url, { headers: key === null ? {} : { Authorization: `Bearer ${key}` }, cache: 'no-store' });
  if (res.status === 401) throw new Refused();
  if (res.status === 403) {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code === 'api_off') throw new ApiOff(body.error.message);
  }
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return (await res.json()) as T;
}

function showLogin(error = ''): void {
  window.clearTimeout(timer);
  ui.dashboard.hidden = true;
  ui.forget.hidden = true;
  ui.login.hidden = false;
  ui.loginError.textContent = error;
  ui.key.value = '';
  ui.key.focus();
}

function showApiOff(message: string): void {
  window.clearTimeout(timer);
  ui.dashboard.hidden = true;
  ui.forget.hidden = true;
  ui.login.hidden = true;
  ui.apiOffMessage.textContent = message;
  ui.apiOff.hidden = false;
}

function showDashboard(): void {
  ui.login.hidden = true;
  ui.loginError.textContent = '';
  ui.dashboard.hidden = false;
  ui.forget.hidden = false;
  void poll();
}

async function poll(): Promise<void> {
  try {
    const list = await get<{ channels: ChannelSummary[] }>('/api/channels');
    renderChannels(list?.channels ?? []);
    await renderMembers();
    ui.updated.textContent = `Updated ${new Date().toLocaleTimeString()} · ${rows.size} channel${rows.size === 1 ? '' : 's'}`;
    ui.notice.textContent = '';
  } catch (err) {
    if (err instanceof ApiOff) return showApiOff(err.message);
    if (err instanceof Refused) {
      sessionStorage.removeItem(KEY_STORE);
      return showLogin('The server refused that key. Check it and enter it again.');
    }
    ui.notice.textContent = `Cannot reach the server (${err instanceof Error ? err.message : String(err)}); retrying.`;
  }
  timer = window.setTimeout(() => void poll(), POLL_MS);
}

function keyOf(c: { path: string; id: string }): string {
  return `${c.path}?id=${c.id}`;
}

function renderChannels(channels: ChannelSummary[]): void {
  const now = performance.now();
  channels.sort((a, b) => a.path.localeCompare(b.path) || a.id.localeCompare(b.id, undefined, { numeric: true }));
  const seen = new Set<string>();
  channels.forEach((c, i) => {
    const key = keyOf(c);
    seen.add(key);
    let row = rows.get(key);
    if (row === undefined) {
      row = createRow(c, now);
      rows.set(key, row);
    }
    const elapsed = (now - row.at) / 1000;
    if (elapsed > 0.2) {
      row.cells.rate.textContent = c.seq >= row.seq ? ((c.seq - row.seq) / elapsed).toFixed(1) : '0.0';
      row.seq = c.seq;
      row.at = now;
    }
    setText(row.cells.members, String(c.members));
    setText(row.cells.connections, String(c.connections));
    setText(row.cells.activity, new Date(c.lastActivity).toLocaleTimeString());
    // Only move a row that is out of place: moving the focused row would drop its focus.
    if (ui.channels.children[i] !== row.tr) ui.channels.insertBefore(row.tr, ui.channels.children[i] ?? null);
    if (selected !== null && keyOf(selected) === key) selected = c;
  });
  for (const [key, row] of rows) {
    if (!seen.has(key)) {
      row.tr.remove();
      rows.delete(key);
    }
  }
  ui.noChannels.hidden = rows.size > 0;
}

function createRow(c: ChannelSummary, now: number): Row {
  const tr = document.createElement('tr');
  const path = cell(tr, 'td', c.path);
  path.className = 'path';
  const idCell = document.createElement('td');
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = c.id;
  button.setAttribute('aria-pressed', 'false');
  button.setAttribute('aria-label', `Channel ${c.id} on ${c.path}: show its members`);
  button.addEventListener('click', () => select(c));
  idCell.append(button);
  tr.append(idCell);
  const members = cell(tr, 'td', '', 'num');
  const connections = cell(tr, 'td', '', 'num');
  const rate = cell(tr, 'td', '–', 'num');
  const activity = cell(tr, 'td', '');
  return { tr, button, cells: { members, connections, rate, activity }, seq: c.seq, at: now };
}

function cell(tr: HTMLTableRowElement, tag: 'td', text: string, className = ''): HTMLElement {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className !== '') el.className = className;
  tr.append(el);
  return el;
}

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function select(c: ChannelSummary): void {
  selected = c;
  shownMembers = '';
  for (const [key, row] of rows) row.button.setAttribute('aria-pressed', String(key === keyOf(c)));
  ui.membersSection.hidden = false;
  ui.membersTitle.textContent = `Members of channel ${c.id} on ${c.path}`;
  void renderMembers();
}

async function renderMembers(): Promise<void> {
  if (selected === null) return;
  const asked = selected;
  const detail = await get<ChannelDetail>(channelUrl(asked));
  if (selected !== asked) return;
  const names = detail?.members ?? [];
  const shown = JSON.stringify([detail === null, names]);
  // Touch the list only when it changed, so a screen reader hears changes, not every poll.
  if (shown === shownMembers) return;
  shownMembers = shown;
  ui.members.replaceChildren(...names.map((name) => {
    const li = document.createElement('li');
    li.textContent = name;
    return li;
  }));
  ui.noMembers.textContent = detail === null ? 'This channel is gone: everyone left and it was reaped.' : 'Nobody has joined this channel by name.';
  ui.noMembers.hidden = names.length > 0;
}

ui.login.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = ui.key.value.trim();
  if (key === '') return;
  sessionStorage.setItem(KEY_STORE, key);
  showDashboard();
});

ui.forget.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORE);
  rows.clear();
  ui.channels.replaceChildren();
  selected = null;
  ui.membersSection.hidden = true;
  showLogin();
});

/** Without a key, asks the server first whether its API is on at all, so as not to ask for a key it cannot take. */
async function start(): Promise<void> {
  if (apiKey() !== null) return showDashboard();
  try {
    await get('/api/channels');
  } catch (err) {
    if (err instanceof ApiOff) return showApiOff(err.message);
  }
  showLogin();
}

void start();
