// Peer: Bun's native pub/sub, the fastest a JavaScript user can pick: Bun.serve (uWebSockets, in
// C++) with ws.subscribe and server.publish, compression off. Run by the bun binary, not node.
// Every connection subscribes to its channel's topic at open, as Bun's own examples do; the
// harness authenticates every member before anything is published, so that delivers what the
// other peers deliver to their authenticated members. The envelope and the token flow are
// peer-protocol.ts's, like every peer's.
import { gc, serve, type ServerWebSocket } from 'bun';
import { host } from './host.js';
import { channelIdOf, PeerRooms, type PeerMember } from './peer-protocol.js';

interface Member extends PeerMember {
  ws: ServerWebSocket<Connection>;
}

interface Connection {
  channel: string;
  /** Set at open, once the socket exists. */
  session: ReturnType<PeerRooms<Member>['join']> | null;
}

const rooms = new PeerRooms<Member>({
  reply: (member, text) => member.ws.send(text),
  fanOut(channel, _members, text, except) {
    // talk_with leaves the sender out, which is what ws.publish does.
    if (except === null) server.publish(channel, text);
    else except.ws.publish(channel, text);
  },
});

const server = serve<Connection>({
  port: 0,
  hostname: '127.0.0.1',
  fetch(request, bun) {
    // request.url is absolute here; channelIdOf reads its path and query either way.
    const channel = channelIdOf(request.url);
    if (channel !== null && bun.upgrade(request, { data: { channel, session: null } })) return undefined;
    return new Response(null, { status: 400 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      ws.subscribe(ws.data.channel);
      ws.data.session = rooms.join(ws.data.channel, { ws, user: null, token: null });
    },
    message(ws, message) {
      if (typeof message === 'string') ws.data.session?.onText(message);
    },
    close(ws) {
      ws.data.session?.leave();
    },
  },
});

await host(
  () =>
    Promise.resolve({
      port: server.port,
      connections: () => server.pendingWebSockets,
      createEmptyChannels() {
        throw new Error('Bun keeps no empty topics: uWebSockets frees a topic with its last subscriber, so there is nothing to reap');
      },
      reapEmptyChannels(): number {
        throw new Error('Bun keeps no empty topics');
      },
    }),
  () => gc(true),
);
