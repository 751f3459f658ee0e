import type { Socket } from 'node:net';
import { expect } from 'chai';
import { connect, join, until, type Event } from './support/client.js';
import { openSocket, tryUpgrade, upgradeRequest } from './support/raw.js';
import { eventually } from './support/eventually.js';
import { startServer } from './support/server.js';

describe('limits', () => {
  describe('message rate', () => {
    it('over the burst, a connection hears rate_limited once with retryAfterMs, and the frames over it are dropped', async () => {
      const { url } = await startServer({ messageRate: 1, messageBurst: 3 });
      const { client } = await join(url('1'), 'alice');
      // auth took one token: two broadcasts pass, the third and fourth are over.
      for (const n of [1, 2, 3, 4]) client.send({ event: 'broadcast', message: n });
      expect((await client.next('message')).message).to.equal(1);
      expect((await client.next('message')).message).to.equal(2);
      const limited = await client.next('error');
      expect(limited).to.deep.include({ code: 'rate_limited', message: 'rate limited: too many frames; wait retryAfterMs before sending again' });
      expect(limited.retryAfterMs).to.be.within(1, 1_000);
      expect(client.pending).to.equal(0);
    });

    it('counts binary frames too', async () => {
      const { url } = await startServer({ messageRate: 1, messageBurst: 2 });
      const { client } = await join(url('1'), 'alice');
      client.send(Buffer.from([1]));
      client.send(Buffer.from([2]));
      expect((await client.next('error')).code).to.equal('rate_limited');
    });

    it('closes a connection that keeps flooding after the warning with 4429', async () => {
      const { url } = await startServer({ messageRate: 1, messageBurst: 5 });
      const { client } = await join(url('1'), 'alice');
      for (let n = 0; n < 20; n += 1) client.send({ event: 'helloworld', message: n });
      expect(await client.closed).to.deep.equal({ code: 4429, reason: 'rate limited' });
    });

    it('answers each request it drops with rate_limited, its re and retryAfterMs', async () => {
      const { url } = await startServer({ messageRate: 1, messageBurst: 3 });
      const { client } = await join(url('1'), 'alice');
      // auth took one token: r1 and r2 pass, r3 and r4 are dropped, and each is told so.
      for (const n of [1, 2, 3, 4]) client.send({ event: 'broadcast', message: n, id: `r${n}` });
      const answered = new Set<unknown>();
      const events = await until(client, (e) => {
        if (e.event === 'ack' || e.event === 'error') answered.add(e.re);
        return answered.size === 4;
      });
      const limited = events.filter((e) => e.event === 'error');
      expect(limited.map((e) => e.re)).to.deep.equal(['r3', 'r4']);
      for (const e of limited) {
        expect(e).to.include({ code: 'rate_limited' });
        expect(e.retryAfterMs).to.be.within(1, 1_000);
      }
      expect(events.filter((e) => e.event === 'ack').map((e) => e.re)).to.deep.equal(['r1', 'r2']);
    });

    for (const oneWrite of [false, true]) {
      it(`acknowledges every broadcast it accepted before the 4429 close${oneWrite ? ', when all the frames arrive in one write' : ''}`, async () => {
        const { url } = await startServer({ messageRate: 1, messageBurst: 40 });
        const { client } = await join(url('1'), 'alice');
        const socket = (client.ws as unknown as { _socket: Socket })._socket;
        if (oneWrite) socket.cork();
        for (let n = 1; n <= 100; n += 1) client.send({ event: 'broadcast', message: n, id: n });
        if (oneWrite) socket.uncork();
        expect(await client.closed).to.deep.equal({ code: 4429, reason: 'rate limited' });
        const events: Event[] = [];
        while (client.pending > 0) events.push(await client.next());
        const echoed = events.filter((e) => e.event === 'message').map((e) => e.message);
        const acked = events.filter((e) => e.event === 'ack').map((e) => e.re);
        const limited = events.filter((e) => e.event === 'error').map((e) => e.re);
        expect(echoed).to.have.length(39);
        expect(acked).to.deep.equal(echoed);
        expect(limited.every((re) => !acked.includes(re))).to.equal(true);
        if (oneWrite) expect([...acked, ...limited].sort((a, b) => Number(a) - Number(b))).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1));
      });
    }

    it('a flooder does not slow the others in its channel', async () => {
      const { url } = await startServer({ messageRate: 1, messageBurst: 5 });
      const flooder = await join(url('1'), 'flooder');
      const bob = await join(url('1'), 'bob');
      for (let n = 0; n < 50; n += 1) flooder.client.send({ event: 'helloworld', message: n });
      await flooder.client.closed;
      bob.client.send({ event: 'user_list', auth: bob.token });
      const seen: unknown[] = [];
      for (let event = await bob.client.next(); event.event !== 'user_list'; event = await bob.client.next()) seen.push(event.message);
      // The flooder's burst (5 tokens, one spent on auth) reached bob; nothing after it did.
      expect(seen).to.deep.equal(['helloworld 0', 'helloworld 1', 'helloworld 2', 'helloworld 3']);
    });
  });

  it('a frame over maxMessageBytes gets message_too_long and the connection stays open', async () => {
    const { url } = await startServer({ maxMessageBytes: 100 });
    const { client } = await join(url('1'), 'alice');
    const frame = JSON.stringify({ event: 'broadcast', message: 'x'.repeat(200) });
    expect(await client.request(frame)).to.deep.equal({ event: 'error', code: 'message_too_long', message: `message too long: ${frame.length} bytes, the limit is 100` });
    expect((await client.request({ event: 'broadcast', message: 'short' })).message).to.equal('short');
  });

  it('a talk_with naming more than maxRecipients gets too_many_recipients', async () => {
    const { url } = await startServer({ maxRecipients: 2 });
    const { client, token } = await join(url('1'), 'alice');
    const reply = await client.request({ event: 'talk_with', auth: token, message: 'x', with_cilents: ['a', 'b', 'c'], id: 1 });
    expect(reply).to.deep.equal({ event: 'error', code: 'too_many_recipients', message: 'too many recipients: 3, the limit is 2', re: 1 });
  });

  describe('connection caps', () => {
    async function refused(port: number, path = '/channel?id=1') {
      return tryUpgrade(await openSocket(port), upgradeRequest(path));
    }

    it('maxConnectionsPerIp answers 429 naming the limit, and frees the place when a connection ends', async () => {
      const { port, url, server } = await startServer({ maxConnectionsPerIp: 2 });
      const first = await connect(url('1'));
      await connect(url('2'));
      const res = await refused(port);
      expect(res.status).to.equal(429);
      expect(res.headers['x-rooms-error']).to.equal('too_many_from_ip');
      expect(res.body).to.equal('too many connections from 127.0.0.1: the limit is 2 (maxConnectionsPerIp)\n');
      first.send({ event: 'close' });
      await first.closed;
      await eventually(() => server.connections === 1, 'the server to drop the closed connection');
      expect((await refused(port)).status).to.equal(101);
    });

    it('maxConnections answers 503 naming the limit', async () => {
      const { port, url } = await startServer({ maxConnections: 1 });
      await connect(url('1'));
      const res = await refused(port, '/channel?id=2');
      expect(res.status).to.equal(503);
      expect(res.body).to.equal('server full: 1 connections (maxConnections); try another instance or later\n');
    });

    it('maxChannels answers 503 for a new channel but lets connections join existing ones', async () => {
      const { port, url } = await startServer({ maxChannels: 1 });
      await join(url('1'), 'alice');
      const res = await refused(port, '/channel?id=2');
      expect(res.status).to.equal(503);
      expect(res.body).to.equal('too many channels: the limit is 1 (maxChannels); join an existing channel or try later\n');
      expect((await join(url('1'), 'bob')).token).to.be.a('string');
    });

    it('maxMembersPerChannel answers 503 for that channel only', async () => {
      const { port, url } = await startServer({ maxMembersPerChannel: 1 });
      await join(url('1'), 'alice');
      const res = await refused(port, '/channel?id=1');
      expect(res.status).to.equal(503);
      expect(res.body).to.equal('channel full: 1 connections (maxMembersPerChannel); try later\n');
      expect((await join(url('2'), 'bob')).token).to.be.a('string');
    });
  });

  describe('origins', () => {
    async function withOrigin(options: { allowedOrigins?: string[]; requireOrigin?: boolean }, origin: string | null) {
      const { port } = await startServer(options);
      return tryUpgrade(await openSocket(port), upgradeRequest('/channel?id=1', origin === null ? {} : { Origin: origin }));
    }
    const allowed = ['https://app.example.com', 'https://*.example.org'];

    for (const origin of ['https://app.example.com', 'HTTPS://APP.EXAMPLE.COM', 'https://a.example.org', 'https://a.b.example.org']) {
      it(`lets ${origin} in when allowedOrigins has it`, async () => {
        expect((await withOrigin({ allowedOrigins: allowed }, origin)).status).to.equal(101);
      });
    }

    for (const origin of ['https://evil.example', 'https://example.org', 'https://app.example.com.evil.example', 'http://app.example.com', 'null']) {
      it(`answers Origin ${origin} with 403`, async () => {
        const res = await withOrigin({ allowedOrigins: allowed }, origin);
        expect(res.status).to.equal(403);
        expect(res.body).to.equal(`origin ${origin} is not allowed to connect here\n`);
      });
    }

    it('lets a client without an Origin header in unless requireOrigin is on', async () => {
      expect((await withOrigin({ allowedOrigins: allowed }, null)).status).to.equal(101);
      const res = await withOrigin({ allowedOrigins: allowed, requireOrigin: true }, null);
      expect(res.status).to.equal(403);
      expect(res.body).to.equal('an Origin header is required here\n');
    });

    it('lets any origin in when allowedOrigins is empty', async () => {
      expect((await withOrigin({}, 'https://anywhere.example')).status).to.equal(101);
    });
  });
});
