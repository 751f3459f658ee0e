/**
 * The chat page served at GET /: join a channel with a name (or come with ?channel=1&user=alice,
 * or ?channel=1&token=JWT; &history=N shows the last N messages, 50 by default), then chat
 * through the client library, which reconnects and resumes.
 */
import { RoomsClient, type ClientState, type RoomsErrorLike } from '../../client/index.js';
import { CLOSES } from '../../wire/closes.js';
import { CHANNEL_ID, validName } from '../../wire/names.js';
import { append, elements, messageItem, notice, settle, showMembers, statusText, systemItem } from './view.js';

const ui = elements();
/** The channel path the server is configured with; the server writes it into the page. */
const PATH = document.body.dataset.path ?? '/channel';
/** How many of the channel's last messages a new member sees when the address does not say. */
const DEFAULT_HISTORY = 50;
const INVALID_NAME = 'That name cannot be used: pick 1 to 32 characters, without control characters.';
/** Attempts failing before the first connection after which the page checks whether the server refuses it. */
const REFUSED_AFTER = 3;

let client: RoomsClient | null = null;
let me = '';
let members: string[] = [];
let countdown: ReturnType<typeof setInterval> | null = null;
/** Whether the current client has been live: a drop before that may be a refusal. */
let wasLive = false;
/** Messages up to this seq (in `earlierEpoch`) are the channel's earlier ones, asked for with `history`. */
let earlierSeq = 0;
let earlierEpoch: string | null = null;
let earlierShown = false;

const params = new URLSearchParams(location.search);
const token = params.get('token');
ui.channel.value = params.get('channel') ?? '';
ui.user.value = params.get('user') ?? '';
ui.history.value = params.get('history') ?? String(DEFAULT_HISTORY);
if (token !== null) {
  // The name comes from the token: there is nothing to type.
  ui.user.required = false;
  ui.user.closest('form')!.querySelector('label[for="user"]')!.remove();
  ui.user.remove();
}
if (ui.channel.value !== '' && (token !== null || ui.user.value !== '')) join();
else (ui.channel.value === '' ? ui.channel : ui.user).focus();

ui.join.addEventListener('submit', (event) => {
  event.preventDefault();
  const count = join();
  if (count === null) return;
  const query = new URLSearchParams({ channel: ui.channel.value.trim() });
  if (token !== null) query.set('token', token);
  else query.set('user', ui.user.value.trim());
  if (count !== DEFAULT_HISTORY) query.set('history', String(count));
  // Keep the choice in the address, so a reload (or a shared link) comes back to the same channel.
  history.replaceState(null, '', `?${query.toString()}`);
});

ui.leave.addEventListener('click', () => {
  void client?.close();
});

ui.text.addEventListener('keydown', (event) => {
  // Enter sends; Shift+Enter breaks the line; Enter that ends an IME composition does neither.
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
});

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.text.value;
  const to = ui.to.value;
  if (client === null || text.trim() === '') return;
  if (to !== '' && !members.includes(to)) {
    // Kept in the box: it can go once they are back, or to someone else.
    notice(ui, `${to} left the channel; your message was not sent.`);
    return;
  }
  ui.text.value = '';
  void send(client, text, to);
});

// A recipient marked "(left)" stays only while chosen.
ui.to.addEventListener('change', () => showMembers(ui, members, me));

/**
 * Joins with the form's settings and returns how many earlier messages it asked for; or says what
 * is wrong with them, without connecting, and returns null. The server's rules are checked here
 * because a browser never learns why an upgrade was refused.
 */
function join(): number | null {
  const wrong = problem();
  const count = historyCount();
  if (wrong !== null) {
    showJoin(wrong.text, wrong.field);
    return null;
  }
  if (count === null) {
    showJoin('Earlier messages to show must be a whole number, 0 or more.', ui.history);
    return null;
  }
  start(count);
  return count;
}

/** What is wrong with the channel id or the name, and the field to fix; null when nothing is. */
function problem(): { text: string; field: HTMLInputElement } | null {
  const channel = ui.channel.value.trim();
  if (!CHANNEL_ID.test(channel)) return { text: `“${channel}” cannot be a channel id: use 1 to 64 letters, digits, or . _ ~ -.`, field: ui.channel };
  if (token === null && validName(ui.user.value) === null) return { text: INVALID_NAME, field: ui.user };
  return null;
}

/** The history setting as a count; null when it is not a whole number from 0. */
function historyCount(): number | null {
  const value = ui.history.value.trim();
  const count = Number(value);
  return value !== '' && Number.isSafeInteger(count) && count >= 0 ? count : null;
}

function start(earlierCount: number): void {
  const channel = ui.channel.value.trim();
  me = token !== null ? (tokenSubject(token) ?? 'you') : ui.user.value.trim();
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${scheme}://${location.host}${PATH}?id=${encodeURIComponent(channel)}`;
  const next = new RoomsClient(url, { ...(token !== null ? { token } : { user: me }), history: earlierCount });
  client = next;
  wasLive = false;
  earlierSeq = 0;
  earlierEpoch = null;
  earlierShown = false;
  ui.where.textContent = `#${channel} as ${me}`;
  ui.messages.replaceChildren();
  ui.notices.replaceChildren();
  members = [];
  ui.to.value = '';
  showMembers(ui, members, me);
  ui.join.hidden = true;
  ui.joinNotice.hidden = true;
  ui.chat.hidden = false;
  ui.leave.hidden = false;
  next.on('state', (state) => {
    if (client === next) void stateChanged(next, state);
  });
  next.on('message', (m) => {
    const item = messageItem(m, me);
    if (m.epoch === earlierEpoch && m.seq !== undefined && m.seq <= earlierSeq) {
      if (!earlierShown) append(ui.messages, systemItem('Earlier messages'));
      earlierShown = true;
      item.classList.add('earlier');
    }
    append(ui.messages, item);
  });
  next.on('join', (user) => {
    if (!members.includes(user)) members = [...members, user];
    showMembers(ui, members, me);
    append(ui.messages, systemItem(`${user} joined`));
  });
  next.on('leave', (user) => {
    members = members.filter((m) => m !== user);
    showMembers(ui, members, me);
    append(ui.messages, systemItem(`${user} left`));
  });
  next.on('error', (error) => notice(ui, explain(error)));
  next.on('recovered', ({ recovered }) => {
    if (!recovered) append(ui.messages, systemItem('Reconnected. Messages sent while you were away may be missing.'));
  });
  ui.text.focus();
  next.connect().catch(() => {
    // The offline state that comes with the failure says why.
  });
}

async function stateChanged(current: RoomsClient, state: ClientState): Promise<void> {
  if (countdown !== null) clearInterval(countdown);
  countdown = null;
  ui.status.dataset.state = state.state;
  ui.status.textContent = statusText(state, Date.now());
  if (state.state === 'reconnecting') {
    countdown = setInterval(() => (ui.status.textContent = statusText(state, Date.now())), 1000);
  }
  if (state.state === 'offline') return offline(state);
  if (state.state === 'reconnecting' && !wasLive && state.code === CLOSES.dropped.code && state.attempt >= REFUSED_AFTER) {
    return checkRefused(current);
  }
  if (state.state === 'live') {
    // On the first connection, what the history replays is what the channel held when it went live.
    if (!wasLive && state.epoch !== undefined && state.seq !== undefined) {
      earlierEpoch = state.epoch;
      earlierSeq = state.seq;
    }
    wasLive = true;
    members = await current.users().catch(() => members);
    showMembers(ui, members, me);
  }
}

/**
 * A browser sees a refused upgrade as a bare 1006, as it sees a server that is down, so the client
 * retries both. When the server answers plain HTTP but the socket never opened, it refused it: an
 * Origin it does not allow, or a limit reached. Stop and say so; a server that is down is retried.
 */
async function checkRefused(current: RoomsClient): Promise<void> {
  const answers = await fetch(location.pathname, { method: 'HEAD', cache: 'no-store' }).then(() => true, () => false);
  if (!answers || client !== current || wasLive) return;
  await current.close();
  showJoin(`The server refused the connection; it may be full, or not accept pages from ${location.origin}. Join to try again, or ask whoever runs it.`, ui.channel);
}

/** Back to the join form, saying why when the server refused. */
function offline(state: Extract<ClientState, { state: 'offline' }>): void {
  client = null;
  const field = state.error?.code === 'name_taken' || state.error?.code === 'invalid_name' ? ui.user : ui.channel;
  showJoin(state.error === undefined ? null : explain(state.error), field);
}

/** Shows the join form, with a notice when there is something to say, and focuses `field`. */
function showJoin(text: string | null, field: HTMLInputElement): void {
  ui.chat.hidden = true;
  ui.leave.hidden = true;
  ui.join.hidden = false;
  ui.where.textContent = '';
  if (text !== null) {
    ui.joinNotice.textContent = text;
    ui.joinNotice.hidden = false;
  }
  field.focus();
}

async function send(current: RoomsClient, text: string, to: string): Promise<void> {
  const item = messageItem({ from: me, message: text, ts: null, ...(to === '' ? {} : { to: [to] }) }, me);
  append(ui.messages, item);
  try {
    await (to === '' ? current.publish(text) : current.to(to, text));
    settle(item, Date.now());
  } catch (error) {
    settle(item, null);
    notice(ui, explain(error as RoomsErrorLike));
  }
}

/** A server or client error in words for people. */
function explain(error: RoomsErrorLike & { user?: string }): string {
  switch (error.code) {
    case 'name_taken':
      return `The name “${me}” is taken in this channel. Pick another.`;
    case 'invalid_name':
      return INVALID_NAME;
    case 'no_such_user':
      return `${error.user ?? 'That member'} is no longer in the channel; the message did not reach them.`;
    case 'rate_limited':
      return 'You are sending too fast. Wait a moment, then send again.';
    case 'message_too_long':
      return 'That message is too long to send.';
    case 'bad_token':
    case 'token_expired':
      return 'Your sign-in token was refused or has expired. Open the chat again from your application.';
    case 'request_timeout':
      return 'The server did not confirm your message in time; it may not have been delivered.';
    case 'shutting_down':
      return 'The server is restarting; the page reconnects by itself.';
    case 'unavailable':
      return 'The server could not reach its cluster store just now; your message may not have gone out. Send it again.';
    default:
      return error.message;
  }
}

/** The user name a JWT names (its `sub`), read without verifying: the server does that. */
function tokenSubject(jwt: string): string | null {
  try {
    const payload = jwt.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : null;
  } catch {
    return null;
  }
}
