// The part of the rooms protocol the raw ws peers speak, so one harness drives every server:
// channels on /channel?id=ID, {"event":"auth"} answered with a token, broadcast (sender included)
// and talk_with (sender excluded), delivered as {"event":"message",...}. Channels are created on
// the first connection and dropped when the last member leaves.
import { randomBytes } from 'node:crypto';

const CHANNEL_ID = /^[A-Za-z0-9._~-]{1,64}$/;

/** The channel id of an upgrade request's URL, or null if it is not /channel?id=<valid id>. */
export function channelIdOf(url: string | undefined): string | null {
  if (url === undefined) return null;
  const parsed = new URL(url, 'http://127.0.0.1');
  const id = parsed.searchParams.get('id');
  return parsed.pathname === '/channel' && id !== null && CHANNEL_ID.test(id) ? id : null;
}

export interface PeerMember {
  user: string | null;
  token: string | null;
}

interface Channel<M extends PeerMember> {
  id: string;
  /** Authenticated members by user name. */
  users: Map<string, M>;
  /** Members connected, authenticated or not. */
  connections: number;
  seq: number;
}

/** How a peer writes: to one member, or one message to the authenticated members of a channel. */
export interface PeerOutput<M> {
  reply(member: M, text: string): void;
  fanOut(channel: string, members: Iterable<M>, text: string, except: M | null): void;
}

type ClientEvent =
  | { event: 'auth'; user: string }
  | { event: 'broadcast'; message: string }
  | { event: 'talk_with'; auth: string; message: string };

function parseEvent(text: string): ClientEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || !('event' in value)) return null;
  const fields = value as Record<string, unknown>;
  const str = (key: string): string | null => (typeof fields[key] === 'string' ? (fields[key]) : null);
  const user = str('user');
  const message = str('message');
  const auth = str('auth');
  if (fields.event === 'auth' && user !== null) return { event: 'auth', user };
  if (fields.event === 'broadcast' && message !== null) return { event: 'broadcast', message };
  if (fields.event === 'talk_with' && message !== null && auth !== null) return { event: 'talk_with', auth, message };
  return null;
}

const errorReply = (message: string): string => JSON.stringify({ event: 'error', message });

export class PeerRooms<M extends PeerMember> {
  private readonly channels = new Map<string, Channel<M>>();

  constructor(private readonly output: PeerOutput<M>) {}

  /** Registers a new connection; call the returned function when it closes. */
  join(id: string, member: M): { onText(text: string): void; leave(): void } {
    let channel = this.channels.get(id);
    if (channel === undefined) this.channels.set(id, (channel = { id, users: new Map(), connections: 0, seq: 0 }));
    channel.connections++;
    const joined = channel;
    return {
      onText: (text) => this.onText(joined, member, text),
      leave: () => {
        if (member.user !== null) joined.users.delete(member.user);
        if (--joined.connections === 0) this.channels.delete(id);
      },
    };
  }

  private onText(channel: Channel<M>, member: M, text: string): void {
    const event = parseEvent(text);
    if (event === null) {
      this.output.reply(member, errorReply('malformed event'));
      return;
    }
    if (event.event === 'auth') {
      if (member.user !== null || event.user.length < 1 || event.user.length > 32 || channel.users.has(event.user)) {
        this.output.reply(member, errorReply('authentication refused'));
        return;
      }
      member.user = event.user;
      member.token = randomBytes(16).toString('hex');
      channel.users.set(event.user, member);
      this.output.reply(member, JSON.stringify({ event: 'token', message: member.token }));
      return;
    }
    if (member.user === null || (event.event === 'talk_with' && event.auth !== member.token)) {
      this.output.reply(member, errorReply('not authenticated'));
      return;
    }
    const envelope = JSON.stringify({
      event: 'message',
      message: event.message,
      from: member.user,
      channel: channel.id,
      seq: ++channel.seq,
      ts: Date.now(),
    });
    this.output.fanOut(channel.id, channel.users.values(), envelope, event.event === 'talk_with' ? member : null);
  }
}
