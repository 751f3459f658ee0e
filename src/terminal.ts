import { createInterface, type Interface } from 'node:readline';
import type { Readable } from 'node:stream';
import { RoomsClient } from './client/rooms-client.js';
import { RoomsError } from './client/errors.js';
import { withoutCredentials } from './log.js';
import type { ChatMessage, ClientState } from './client/types.js';

/** What `rooms connect` was given, validated by the CLI. */
export interface TerminalOptions {
  url: string;
  user?: string;
  token?: string;
  presence: boolean;
}

export interface TerminalIo {
  input: Readable;
  /** A person at a terminal (prompt, state lines) rather than a script piping lines in. */
  interactive: boolean;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** One typed line, understood. */
export type Command =
  | { kind: 'publish'; text: string }
  | { kind: 'msg'; to: string; text: string }
  | { kind: 'who' }
  | { kind: 'quit' }
  | { kind: 'help' }
  | { kind: 'bad'; error: string };

const HELP = 'type a line to send it to everyone; /msg NAME TEXT to one member; /who lists the members; /quit leaves\n';
/** How long a script waits for its first connection before giving up. */
const SCRIPT_CONNECT_TIMEOUT = 10_000;

/** Reads a line: a message to publish, or a command. Null for a blank line. */
export function parseLine(line: string): Command | null {
  const text = line.trimEnd();
  if (text.trim() === '') return null;
  if (!text.startsWith('/')) return { kind: 'publish', text };
  const [word = '', ...rest] = text.split(' ');
  switch (word) {
    case '/msg': {
      const [to = '', ...words] = rest.filter((w, i) => w !== '' || i > 0);
      const body = words.join(' ');
      if (to === '' || body.trim() === '') return { kind: 'bad', error: 'usage: /msg NAME TEXT' };
      return { kind: 'msg', to, text: body };
    }
    case '/who':
      return { kind: 'who' };
    case '/quit':
      return { kind: 'quit' };
    case '/help':
      return { kind: 'help' };
    default:
      return { kind: 'bad', error: `unknown command ${word}; ${HELP.trimEnd()}` };
  }
}

/** `[HH:MM:SS] bob: hi`, in local time; messages that are not strings are shown as JSON. */
export function formatMessage(m: ChatMessage): string {
  const time = new Date(m.ts).toTimeString().slice(0, 8);
  const text = typeof m.message === 'string' ? m.message : JSON.stringify(m.message);
  return `[${time}] ${m.from}: ${text}\n`;
}

/**
 * `rooms connect`: chat in a channel from a terminal, or, with piped input, send each line, wait
 * for its reply and exit. Resolves with the exit code: 0 done, 1 a request or the connection failed.
 */
export async function runTerminal(options: TerminalOptions, io: TerminalIo): Promise<number> {
  const client = new RoomsClient(options.url, {
    ...(options.token === undefined ? { user: options.user! } : { token: options.token }),
    presence: options.presence,
  });
  let show = io.stdout;
  client.on('message', (m) => show(formatMessage(m)));
  if (options.presence) {
    client.on('join', (user) => show(`* ${user} joined\n`));
    client.on('leave', (user) => show(`* ${user} left\n`));
  }
  client.on('error', (e) => io.stderr(`rooms: ${e.code}: ${e.message}\n`));
  const hideStates = io.interactive ? client.on('state', (s) => show(describeState(s))) : null;
  try {
    await connectWithin(client, options.url, io.interactive ? null : SCRIPT_CONNECT_TIMEOUT);
  } catch (err) {
    // Read before close(), which replaces the state the server's refusal left, and is no news.
    const why = err instanceof RoomsError && err.code === 'upgrade_refused' && client.state.state === 'offline' ? `the server refused it with ${client.state.reason}` : (err as Error).message;
    hideStates?.();
    await client.close();
    io.stderr(`rooms: cannot connect to ${withoutCredentials(options.url)}: ${why}\n`);
    return 1;
  }
  // Read lines only now: readline's async iterator drops the lines emitted before it is taken.
  const lines = createInterface({ input: io.input, ...(io.interactive ? { output: process.stdout, prompt: '> ' } : {}) });
  // Ctrl+C at the prompt leaves like /quit (readline would only pause without a listener).
  lines.on('SIGINT', () => lines.close());
  if (io.interactive) {
    show = promptSafe(lines, io.stdout);
    show(HELP);
  }
  let code = 0;
  // The server refused the client for good (a 44xx close): nothing more can be sent.
  client.on('state', (s) => {
    if (s.state === 'offline' && s.code !== 1000) {
      code = 1;
      lines.close();
    }
  });
  for await (const line of lines) {
    const command = parseLine(line);
    if (command?.kind === 'quit') break;
    const failed = command === null ? null : await execute(client, command, show);
    if (failed !== null) {
      io.stderr(`rooms: ${failed}\n`);
      if (!io.interactive || client.state.state === 'offline') {
        code = 1;
        break;
      }
    }
    if (io.interactive) lines.prompt();
  }
  lines.close();
  await client.close();
  return code;
}

/** Runs one command; resolves with an error line, or null when it went well. */
async function execute(client: RoomsClient, command: Command, show: (text: string) => void): Promise<string | null> {
  try {
    switch (command.kind) {
      case 'publish':
        await client.publish(command.text);
        return null;
      case 'msg':
        await client.to(command.to, command.text);
        return null;
      case 'who':
        show(`${(await client.users()).join(', ')}\n`);
        return null;
      case 'help':
        show(HELP);
        return null;
      case 'quit':
        return null;
      case 'bad':
        return command.error;
    }
  } catch (err) {
    return err instanceof RoomsError ? `${err.code}: ${err.message}` : (err as Error).message;
  }
}

/**
 * The first connection, within `ms` when given. A server that is not there fails it at once: the
 * library would retry, as it should for a server that restarts, but a person or a script that has
 * never reached it is better told now that the URL leads nowhere.
 */
function connectWithin(client: RoomsClient, url: string, ms: number | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error): void => {
      if (timer !== null) clearTimeout(timer);
      stopWatching();
      if (err === undefined) resolve();
      else reject(err);
    };
    const timer = ms === null ? null : setTimeout(() => {
      const state = client.state;
      settle(new Error(`not connected within ${ms / 1000} s${state.state === 'reconnecting' ? ` (${state.reason})` : ''}`));
    }, ms);
    const stopWatching = client.on('state', (s) => {
      const why = s.state === 'reconnecting' ? unreachable(s.reason, url) : null;
      if (why !== null) settle(new Error(why));
    });
    client.connect().then(
      () => settle(),
      (err: unknown) => settle(err instanceof Error ? err : new Error(String(err))),
    );
  });
}

/**
 * What an attempt's failure says when waiting cannot mend it (nothing listens at the port, the
 * host does not exist); null for a failure that may pass. Node names the cause by its errno code.
 */
export function unreachable(reason: string, url: string): string | null {
  const { hostname, port, protocol } = new URL(url);
  if (/\bECONNREFUSED\b/.test(reason)) {
    return `nothing is listening on ${hostname}:${port || (protocol === 'wss:' ? 443 : 80)} (ECONNREFUSED); start the server or check the port`;
  }
  if (/\bENOTFOUND\b/.test(reason)) return `no such host ${hostname} (ENOTFOUND); check the URL`;
  return null;
}

function describeState(s: ClientState): string {
  switch (s.state) {
    case 'idle':
      return '';
    case 'connecting':
      return s.attempt === 0 ? '* connecting\n' : '';
    case 'live':
      return '* live\n';
    case 'reconnecting':
      return `* reconnecting in ${(s.delay / 1000).toFixed(1)} s (${s.reason})\n`;
    case 'offline':
      return `* offline: ${s.error?.message ?? s.reason}\n`;
  }
}

/** Prints a line above the prompt without mangling what the user is typing. */
function promptSafe(lines: Interface, write: (text: string) => void): (text: string) => void {
  return (text) => {
    if (text === '') return;
    write(`\r\x1b[K${text}`);
    lines.prompt(true);
  };
}
