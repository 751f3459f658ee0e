// Peer: Socket.IO 4, websocket transport only. A member joins with auth { room, user }, gets a
// 'token' event, publishes with 'broadcast' (io.to(room).emit, sender included) or 'talk_with'
// (socket.to(room).emit, sender excluded) and receives 'message' events. Given a Redis, it is one
// node of several, on @socket.io/redis-adapter.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { createCluster } from 'redis';
import { Server, type ServerOptions } from 'socket.io';
import { serverSettings, type RedisTarget } from '../lib/api.js';
import { host } from './host.js';

const CHANNEL_ID = /^[A-Za-z0-9._~-]{1,64}$/;

interface Room {
  users: Set<string>;
  seq: number;
}

interface Member {
  room: string;
  user: string;
  token: string;
}

const rooms = new Map<string, Room>();

function memberOf(auth: unknown): Member | null {
  if (typeof auth !== 'object' || auth === null || !('room' in auth) || !('user' in auth)) return null;
  const { room, user } = auth;
  if (typeof room !== 'string' || typeof user !== 'string' || !CHANNEL_ID.test(room)) return null;
  if (user.length < 1 || user.length > 32 || rooms.get(room)?.users.has(user) === true) return null;
  return { room, user, token: randomBytes(16).toString('hex') };
}

/**
 * The redis adapter on `target`, and what resolves once both of its connections answer. On one
 * Redis: ioredis, and the subscriber's PING is answered after the PSUBSCRIBE the adapter asked for
 * before it. On a cluster: the sharded adapter on node-redis's cluster client (ioredis's cannot do
 * sharded Pub/Sub on a cluster), connected before the adapter is made; it SSUBSCRIBEs to a room's
 * channel as the room is made, on the shard of its slot, and the scenarios' idle read before
 * publishing gives that time.
 */
async function redisAdapter(target: RedisTarget): Promise<{ adapter: ServerOptions['adapter']; answering(): Promise<unknown> }> {
  switch (target.topology) {
    case 'single': {
      const pub = new Redis(target.ports[0], '127.0.0.1');
      const sub = pub.duplicate();
      return { adapter: createAdapter(pub, sub), answering: () => Promise.all([pub.ping(), sub.ping()]) };
    }
    case 'cluster': {
      const pub = createCluster({ rootNodes: target.ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })) });
      const sub = pub.duplicate();
      await Promise.all([pub.connect(), sub.connect()]);
      return { adapter: createShardedAdapter(pub, sub), answering: () => Promise.resolve() };
    }
  }
}

await host(async () => {
  const { redis } = serverSettings();
  const http = createServer();
  const scaleOut = redis === undefined ? null : await redisAdapter(redis);
  const io = new Server(http, { transports: ['websocket'], serveClient: false, ...(scaleOut === null ? {} : { adapter: scaleOut.adapter }) });
  await scaleOut?.answering();
  io.use((socket, next) => {
    const member = memberOf(socket.handshake.auth);
    if (member === null) {
      next(new Error('authentication refused'));
      return;
    }
    socket.data = member;
    next();
  });
  io.on('connection', (socket) => {
    const member = socket.data as Member;
    let room = rooms.get(member.room);
    if (room === undefined) rooms.set(member.room, (room = { users: new Set(), seq: 0 }));
    room.users.add(member.user);
    const joined = room;
    void socket.join(member.room);
    const deliver = (message: unknown, excludeSender: boolean): void => {
      if (typeof message !== 'string') return;
      const payload = { message, from: member.user, channel: member.room, seq: ++joined.seq, ts: Date.now() };
      if (excludeSender) socket.to(member.room).emit('message', payload);
      else io.to(member.room).emit('message', payload);
    };
    socket.on('broadcast', (message: unknown) => deliver(message, false));
    socket.on('talk_with', (token: unknown, message: unknown) => {
      if (token === member.token) deliver(message, true);
    });
    socket.on('disconnect', () => {
      joined.users.delete(member.user);
      if (joined.users.size === 0) rooms.delete(member.room);
    });
    socket.emit('token', member.token);
  });
  await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
  const adapter = io.of('/').adapter;
  let phantoms = 0;
  return {
    port: (http.address() as AddressInfo).port,
    connections: () => io.engine.clientsCount,
    // Socket.IO keeps no empty rooms: a room goes when its last socket leaves. The nearest
    // equivalent is 100,000 rooms of one phantom socket id each, all left in one synchronous loop.
    createEmptyChannels(count) {
      for (let i = 0; i < count; i++) void adapter.addAll(`phantom-${i}`, new Set([`c${i}`]));
      phantoms = count;
    },
    reapEmptyChannels() {
      const before = adapter.rooms.size;
      for (let i = 0; i < phantoms; i++) adapter.delAll(`phantom-${i}`);
      phantoms = 0;
      return before - adapter.rooms.size;
    },
  };
});
