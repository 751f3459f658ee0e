// Peer: raw ws, one send() per member per message.
import type { WebSocket } from 'ws';
import { host } from './host.js';
import { PeerRooms, type PeerMember } from './peer-protocol.js';
import { listenChannels } from './ws-upgrade.js';

interface Member extends PeerMember {
  ws: WebSocket;
}

const rooms = new PeerRooms<Member>({
  reply: (member, text) => member.ws.send(text),
  fanOut(_channel, members, text, except) {
    for (const member of members) if (member !== except) member.ws.send(text);
  },
});

await host(() =>
  listenChannels((ws, _socket, channelId) => {
    const member: Member = { ws, user: null, token: null };
    const session = rooms.join(channelId, member);
    ws.on('message', (data, isBinary) => {
      // Text frames arrive as one Buffer (ws's default binaryType).
      if (!isBinary) session.onText((data as Buffer).toString());
    });
    ws.on('close', () => session.leave());
  }),
);
