// Peer and practical ceiling for Node: each message is serialized and framed once; frames are
// queued per member and flushed with one socket.write per member in a single setImmediate per tick.
import type { Duplex } from 'node:stream';
import { Sender } from 'ws';
import { host } from './host.js';
import { PeerRooms, type PeerMember } from './peer-protocol.js';
import { listenChannels } from './ws-upgrade.js';

interface Member extends PeerMember {
  socket: Duplex;
  queue: Buffer[] | null;
}

const FRAME = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };

function frame(text: string): Buffer {
  const parts = Sender.frame(Buffer.from(text), FRAME);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

let dirty: Member[] = [];
let flushScheduled = false;

function flush(): void {
  const members = dirty;
  dirty = [];
  flushScheduled = false;
  for (const member of members) {
    const queue = member.queue!;
    member.queue = null;
    if (member.socket.writable) member.socket.write(queue.length === 1 ? queue[0] : Buffer.concat(queue));
  }
}

function enqueue(member: Member, bytes: Buffer): void {
  if (member.queue === null) {
    member.queue = [bytes];
    dirty.push(member);
  } else {
    member.queue.push(bytes);
  }
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

const rooms = new PeerRooms<Member>({
  reply: (member, text) => enqueue(member, frame(text)),
  fanOut(_channel, members, text, except) {
    const bytes = frame(text);
    for (const member of members) if (member !== except) enqueue(member, bytes);
  },
});

await host(() =>
  listenChannels((ws, socket, channelId) => {
    const member: Member = { socket, queue: null, user: null, token: null };
    const session = rooms.join(channelId, member);
    ws.on('message', (data, isBinary) => {
      // Text frames arrive as one Buffer (ws's default binaryType).
      if (!isBinary) session.onText((data as Buffer).toString());
    });
    ws.on('close', () => session.leave());
  }),
);
