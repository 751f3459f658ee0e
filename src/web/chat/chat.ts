/**
 * The chat page served at GET /: join a channel with a name (or come with ?channel=1&user=alice,
 * or ?channel=1&token=JWT), then chat through the client library, which reconnects and resumes.
 */
import { RoomsClient, type ClientState, type RoomsErrorLike } from '../../client/index.js';
import { append, elements, messageItem, notice, settle, showMembers, statusText, systemItem } from './view.js';

const ui = elements();
/** The channel path the server is configured with; the server writes it into the page. */
const PATH = document.body.dataset.path ?? '/channel';

let client: RoomsClient | null = null;
let me = '';
let members: string[] = [];
let countdown: ReturnType<typeof setInterval> | null = null;

const params = new URLSearchParams(location.search);
const token = params.get('token');
ui.channel.value = params.get('channel') ?? '';
ui.user.value = params.get('user') ?? '';
if (token !== null) {
  // The name comes from the token: there is nothing to type.
  ui.user.required = false;
  ui.user.closest('form')!.querySelector('label[for="user"]')!.remove();
  ui.user.remove();
}
if (ui.channel.value !== '' && (token !== null || ui.user.value !== '')) start();
else (ui.channel.value === '' ? ui.channel : ui.user).focus();

ui.join.addEventListener('submit', (event) => {
  event.preventDefault();
  const query = new URLSearchParams({ channel: ui.channel.value.trim() });
  if (token !== null) query.set('token', token);
  else query.set('user', ui.user.value.trim());
  // Keep the choice in the address, so a reload (or a shared link) comes back to the same channel.
  history.replaceState(null, '', `?${query.toString()}`);
  start();
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
  if (client === null || text.trim() === '') return;
  ui.text.value = '';
  void send(client, text, ui.to.value);
});

function start(): void {
  const channel = ui.channel.value.trim();
  me = token !== null ? (tokenSubject(token) ?? 'you') : ui.user.value.trim();
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${scheme}://${location.host}${PATH}?id=${encodeURIComponent(channel)}`;
  const next = new RoomsClient(url, token !== null ? { token } : { user: me });
  client = next;
  ui.where.textContent = `#${channel} as ${me}`;
  ui.messages.replaceChildren();
  ui.notices.replaceChildren();
  members = [];
  showMembers(ui, members, me);
  ui.join.hidden = true;
  ui.joinNotice.hidden = true;
  ui.chat.hidden = false;
  ui.leave.hidden = false;
  next.on('state', (state) => {
    if (client === next) void stateChanged(next, state);
  });
  next.on('message', (m) => append(ui.messages, messageItem(m, m.from === me)));
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
  if (state.state === 'live') {
    members = await current.users().catch(() => members);
    showMembers(ui, members, me);
  }
}

/** Back to the join form, saying why when the server refused. */
function offline(state: Extract<ClientState, { state: 'offline' }>): void {
  client = null;
  ui.chat.hidden = true;
  ui.leave.hidden = true;
  ui.join.hidden = false;
  ui.where.textContent = '';
  if (state.error !== undefined) {
    ui.joinNotice.textContent = explain(state.error);
    ui.joinNotice.hidden = false;
  }
  (state.error?.code === 'name_taken' || state.error?.code === 'invalid_name' ? ui.user : ui.channel).focus();
}

async function send(current: RoomsClient, text: string, to: string): Promise<void> {
  const item = messageItem({ from: me, message: text, ts: null, ...(to === '' ? {} : { to }) }, true);
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
      return 'That name cannot be used: pick 1 to 32 characters, without control characters.';
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
