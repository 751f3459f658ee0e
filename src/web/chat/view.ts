import type { ClientState } from '../../client/index.js';
import { byId } from '../dom.js';

/** The page's elements, looked up once. */
export interface Elements {
  where: HTMLElement;
  status: HTMLElement;
  leave: HTMLButtonElement;
  join: HTMLFormElement;
  joinNotice: HTMLElement;
  channel: HTMLInputElement;
  user: HTMLInputElement;
  history: HTMLInputElement;
  chat: HTMLElement;
  notices: HTMLUListElement;
  messages: HTMLOListElement;
  members: HTMLUListElement;
  count: HTMLElement;
  composer: HTMLFormElement;
  to: HTMLSelectElement;
  text: HTMLTextAreaElement;
}

export function elements(): Elements {
  return {
    where: byId('where'),
    status: byId('status'),
    leave: byId('leave'),
    join: byId('join'),
    joinNotice: byId('join-notice'),
    channel: byId('channel'),
    user: byId('user'),
    history: byId('history'),
    chat: byId('chat'),
    notices: byId('notices'),
    messages: byId('messages'),
    members: byId('members'),
    count: byId('count'),
    composer: byId('composer'),
    to: byId('to'),
    text: byId('text'),
  };
}

/** The status line's words for a state; `now` counts down a reconnection. */
export function statusText(state: ClientState, now: number): string {
  switch (state.state) {
    case 'idle':
      return 'Not connected';
    case 'connecting':
      return 'Connecting…';
    case 'live':
      return 'Live';
    case 'reconnecting':
      return `Reconnecting in ${Math.max(1, Math.ceil((state.at - now) / 1000))} s`;
    case 'offline':
      return 'Offline';
  }
}

const TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/**
 * One message in the log: sender, whom it is for when it is private, time, text. `me` tells this
 * page's own messages and is "you" among the recipients. Text is set as text, never as HTML.
 */
export function messageItem(m: { from: string; message: unknown; ts: number | null; to?: string[] }, me: string): HTMLLIElement {
  const item = document.createElement('li');
  if (m.from === me) item.classList.add('mine');
  const meta = document.createElement('div');
  meta.className = 'meta';
  const from = document.createElement('span');
  from.className = 'from';
  from.textContent = m.from;
  meta.append(from);
  if (m.to !== undefined) {
    item.classList.add('private');
    const to = document.createElement('span');
    to.className = 'private-to';
    to.textContent = `private to ${m.to.map((name) => (name === me ? 'you' : name)).join(', ')}`;
    meta.append(to);
  }
  const time = document.createElement('time');
  if (m.ts === null) {
    time.textContent = 'sending…';
  } else {
    time.dateTime = new Date(m.ts).toISOString();
    time.textContent = TIME.format(m.ts);
  }
  meta.append(time);
  const text = document.createElement('p');
  text.className = 'text';
  text.textContent = typeof m.message === 'string' ? m.message : JSON.stringify(m.message);
  item.append(meta, text);
  return item;
}

/** Marks an own message as delivered at `ts`, or as failed. */
export function settle(item: HTMLLIElement, ts: number | null): void {
  const time = item.querySelector('time')!;
  if (ts === null) {
    item.classList.add('failed');
    time.textContent = 'not sent';
    return;
  }
  time.dateTime = new Date(ts).toISOString();
  time.textContent = TIME.format(ts);
}

/** A line in the log that is not a message: joins, leaves, a resync. */
export function systemItem(text: string): HTMLLIElement {
  const item = document.createElement('li');
  item.className = 'system';
  item.textContent = text;
  return item;
}

/** Appends to the log, keeping it scrolled to the end when it was there. */
export function append(log: HTMLElement, item: HTMLElement): void {
  const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(item);
  if (atEnd) log.scrollTop = log.scrollHeight;
}

/**
 * Redraws the member list and the "To" choices from the names. A chosen recipient who left stays
 * chosen, marked "(left)": falling back to Everyone would send the next private message to all.
 */
export function showMembers(ui: Elements, names: string[], me: string): void {
  ui.members.replaceChildren(
    ...names.map((name) => {
      const item = document.createElement('li');
      item.textContent = name;
      if (name === me) item.className = 'me';
      return item;
    }),
  );
  ui.count.textContent = `(${names.length})`;
  const chosen = ui.to.value;
  const others = names.filter((n) => n !== me).map((n) => new Option(n, n));
  if (chosen !== '' && !names.includes(chosen)) others.push(new Option(`${chosen} (left)`, chosen));
  ui.to.replaceChildren(new Option('Everyone', ''), ...others);
  ui.to.value = chosen;
}

/** Shows a notice above the log, with a button to dismiss it; at most three stay. */
export function notice(ui: Elements, text: string, kind: 'error' | 'info' = 'error'): void {
  const item = document.createElement('li');
  if (kind === 'info') item.className = 'info';
  const words = document.createElement('span');
  words.textContent = text;
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.textContent = 'Dismiss';
  dismiss.setAttribute('aria-label', `Dismiss: ${text}`);
  dismiss.addEventListener('click', () => item.remove());
  item.append(words, dismiss);
  ui.notices.prepend(item);
  while (ui.notices.children.length > 3) ui.notices.lastElementChild!.remove();
}

