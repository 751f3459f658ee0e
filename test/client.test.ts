import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { mintToken } from '../src/auth/jwt.js';
import { RoomsClient, RoomsError, backoffDelay } from '../src/client/index.js';
import { parseIncoming } from '../src/client/incoming.js';
import { roomsClient } from './support/rooms-client.js';
import { startServer } from './support/server.js';
import { spawnRooms, waitForOutput } from './support/cli.js';
import { onCleanup } from './support/cleanup.js';

async function rejection(promise: Promise<unknown>): Promise<RoomsError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(RoomsError);
    return err as RoomsError;
  }
  throw new Error('expected the promise to reject');
}

describe('client library', () => {
  describe('requests', () => {
    it('publish reaches every other member and resolves with the seq from the ack', async () => {
      const { url } = await startServer();
      const alice = roomsClient(url('1'), { user: 'alice' });
      const bob = roomsClient(url('1'), { user: 'bob' });
      await alice.client.connect();
      await bob.client.connect();
      const ack = await alice.client.publish({ text: 'hi' });
      expect(ack).to.deep.equal({ seq: 1, duplicate: false, local: false });
      const [message] = await bob.received(1);
      expect(message).to.include({ from: 'alice', channel: '1', seq: 1 });
      expect(message.message).to.deep.equal({ text: 'hi' });
      expect(message.ts).to.be.a('number');
      expect(alice.messages).to.be.empty;
    });

    it('broadcast comes back to the sender too', async () => {
      const { url } = await startServer();
      const alice = roomsClient(url('1'), { user: 'alice' });
      await alice.client.connect();
      const ack = await alice.client.broadcast('all');
      const [message] = await alice.received(1);
      expect(message).to.include({ from: 'alice', message: 'all', seq: ack.seq });
    });

    it('to() reaches the named member only', async () => {
      const { url } = await startServer();
      const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((user) => roomsClient(url('1'), { user }));
      for (const c of [alice, bob, carol]) await c.client.connect();
      await alice.client.to('bob', 'psst');
      await alice.client.broadcast('everyone');
      const got = await bob.received(2);
      expect(got.map((m) => m.message)).to.deep.equal(['psst', 'everyone']);
      expect(got.map((m) => m.to)).to.deep.equal([['bob'], undefined]);
      expect((await carol.received(1)).map((m) => m.message)).to.deep.equal(['everyone']);
    });

    it('with history, the first connection receives the channel\'s last messages before the live ones', async () => {
      const { url } = await startServer({ historySize: 4 });
      const alice = roomsClient(url('1'), { user: 'alice' });
      await alice.client.connect();
      for (let i = 1; i <= 6; i += 1) await alice.client.publish(`m${i}`);
      const few = roomsClient(url('1'), { user: 'bob', history: 3 });
      const all = roomsClient(url('1'), { user: 'carol', history: 50 });
      const none = roomsClient(url('1'), { user: 'dave' });
      for (const c of [few, all, none]) await c.client.connect();
      await alice.client.publish('live');
      expect((await few.received(4)).map((m) => m.message)).to.deep.equal(['m4', 'm5', 'm6', 'live']);
      expect((await all.received(5)).map((m) => m.message)).to.deep.equal(['m3', 'm4', 'm5', 'm6', 'live']);
      expect((await none.received(1)).map((m) => m.message)).to.deep.equal(['live']);
    });

    it('users() lists the members in join order', async () => {
      const { url } = await startServer();
      const alice = roomsClient(url('1'), { user: 'alice' });
      const bob = roomsClient(url('1'), { user: 'bob' });
      await alice.client.connect();
      await bob.client.connect();
      expect(await alice.client.users()).to.deep.equal(['alice', 'bob']);
    });

    it('tells join and leave', async () => {
      const { url } = await startServer();
      const alice = roomsClient(url('1'), { user: 'alice' });
      await alice.client.connect();
      const joined = new Promise<string>((resolve) => alice.client.on('join', resolve));
      const left = new Promise<string>((resolve) => alice.client.on('leave', resolve));
      const bob = roomsClient(url('1'), { user: 'bob' });
      await bob.client.connect();
      expect(await joined).to.equal('bob');
      await bob.client.close();
      expect(await left).to.equal('bob');
    });

    it('a server error rejects the request with its code', async () => {
      const { url } = await startServer();
      const alice = roomsClient(url('1'), { user: 'alice' });
      await alice.client.connect();
      const error = await rejection(alice.client.to('ghost', 'hello?'));
      expect(error).to.include({ code: 'no_such_user', user: 'ghost' });
    });

    it('a request the rate limit dropped is sent again after retryAfterMs, with its id, and resolves', async () => {
      const { url } = await startServer({ messageRate: 10, messageBurst: 3 });
      const alice = roomsClient(url('1'), { user: 'alice' });
      const bob = roomsClient(url('1'), { user: 'bob' });
      await alice.client.connect();
      await bob.client.connect();
      const errors: RoomsError[] = [];
      alice.client.on('error', (e) => errors.push(e));
      // auth took one of the three tokens: two publishes pass at once, the other three wait.
      const acks = await Promise.all([1, 2, 3, 4, 5].map((n) => alice.client.publish(n)));
      expect(acks.map((a) => a.seq).sort()).to.deep.equal([1, 2, 3, 4, 5]);
      expect((await bob.received(5)).map((m) => m.message).sort()).to.deep.equal([1, 2, 3, 4, 5]);
      expect(errors).to.deep.equal([]);
    });

    it('a request still waiting after requestTimeout fails with request_timeout, one waiting out the rate limit too', async () => {
      // auth takes the one frame of the burst: the publish is dropped, and retryAfterMs (1 s) is past requestTimeout.
      const { url } = await startServer({ messageRate: 1, messageBurst: 1 });
      const alice = roomsClient(url('1'), { user: 'alice', requestTimeout: 300 });
      await alice.client.connect();
      const error = await rejection(alice.client.publish('too soon'));
      expect(error.code).to.equal('request_timeout');
    });

    it('requests before connect() and after close() fail with client_offline', async () => {
      const { url } = await startServer();
      const client = new RoomsClient(url('1'), { user: 'alice' });
      expect((await rejection(client.users())).code).to.equal('client_offline');
      await client.connect();
      await client.close();
      expect(client.state).to.deep.equal({ state: 'offline', code: 1000, reason: 'closed by the client' });
      expect((await rejection(client.publish('late'))).code).to.equal('client_offline');
      await client.close();
    });

    it('refuses bad options with a TypeError saying what it accepts', () => {
      expect(() => new RoomsClient('http://x/channel?id=1', { user: 'a' })).to.throw(TypeError, 'url must start with ws:// or wss://');
      expect(() => new RoomsClient('ws://x/channel?id=1', {})).to.throw(TypeError, 'give exactly one of user (open mode) or token (token mode)');
      expect(() => new RoomsClient('ws://x/channel?id=1', { user: 'a', idleTimeout: 0 })).to.throw(TypeError, 'idleTimeout must be a positive integer of milliseconds (got 0)');
      expect(() => new RoomsClient('ws://x/channel?id=1', { user: 'a' }).to([], 'x')).to.throw(TypeError, 'to() needs a user name');
    });
  });

  describe('connection', () => {
    it('a taken name is not retried: connect() rejects with name_taken and the client goes offline with 4409', async () => {
      const { url } = await startServer();
      const first = roomsClient(url('1'), { user: 'alice' });
      await first.client.connect();
      const second = roomsClient(url('1'), { user: 'alice' });
      const error = await rejection(second.client.connect());
      expect(error.code).to.equal('name_taken');
      expect(second.client.state).to.include({ state: 'offline', code: 4409 });
      expect(second.states.map((s) => s.state)).to.deep.equal(['connecting', 'offline']);
    });

    it('in token mode, asks its token function for a fresh token on every connection', async () => {
      const secret = 'a-secret-shared-with-the-app-0123456789';
      const { url, server } = await startServer({ authMode: 'token', jwtSecret: secret });
      let minted = 0;
      const token = (): Promise<string> => {
        minted += 1;
        return mintToken(secret, { user: 'zoe', ttl: 60 });
      };
      const zoe = roomsClient(url('1'), { token, minDelay: 50 });
      await zoe.client.connect();
      expect(await zoe.client.users()).to.deep.equal(['zoe']);
      const before = zoe.states.length;
      server.registry.get('/channel', '1')!.members.get('zoe')!.link.terminate();
      await zoe.reaches('live', before);
      expect(minted).to.equal(2);
    });

    it('in token mode, a refused token is not retried', async () => {
      const { url } = await startServer({ authMode: 'token', jwtSecret: 'a-secret-shared-with-the-app-0123456789' });
      const zoe = roomsClient(url('1'), { token: await mintToken('another-secret-of-at-least-32-chars!!', { user: 'zoe', ttl: 60 }) });
      const error = await rejection(zoe.client.connect());
      expect(error.code).to.equal('bad_token');
      expect(zoe.client.state).to.include({ state: 'offline', code: 4401 });
    });

    it('an HTTP refusal at the upgrade is not retried', async () => {
      const { port } = await startServer();
      const client = roomsClient(`ws://127.0.0.1:${port}/nowhere?id=1`, { user: 'alice' });
      const error = await rejection(client.client.connect());
      expect(error).to.include({ code: 'upgrade_refused', message: 'the server refused the connection with HTTP 404' });
      expect(client.states.map((s) => s.state)).to.deep.equal(['connecting', 'offline']);
    });

    it('reconnects after the server kills its socket, then works as before', async () => {
      const { url, server } = await startServer();
      const alice = roomsClient(url('1'), { user: 'alice', minDelay: 50 });
      const bob = roomsClient(url('1'), { user: 'bob' });
      await alice.client.connect();
      await bob.client.connect();
      const before = alice.states.length;
      server.registry.get('/channel', '1')!.members.get('alice')!.link.terminate();
      const reconnecting = await alice.reaches('reconnecting', before);
      expect(reconnecting).to.include({ attempt: 1, code: 1006 });
      await alice.reaches('live', before);
      await alice.client.publish('back');
      expect((await bob.received(1))[0]).to.include({ from: 'alice', message: 'back' });
    });

    it('a request made while reconnecting goes out once the client is live again', async () => {
      const { url, server } = await startServer();
      const alice = roomsClient(url('1'), { user: 'alice', minDelay: 50 });
      await alice.client.connect();
      const before = alice.states.length;
      server.registry.get('/channel', '1')!.members.get('alice')!.link.terminate();
      await alice.reaches('reconnecting', before);
      const ack = await alice.client.broadcast('queued');
      expect(alice.client.state.state).to.equal('live');
      expect((await alice.received(1))[0]).to.include({ message: 'queued', seq: ack.seq });
    });

    it('reconnects to a server restarted on the same port after it shut down with 1001', async () => {
      const first = await startServer();
      const port = first.port;
      const alice = roomsClient(first.url('1'), { user: 'alice', minDelay: 50, maxDelay: 200 });
      await alice.client.connect();
      const before = alice.states.length;
      await first.server.close();
      expect(await alice.reaches('reconnecting', before)).to.include({ code: 1001 });
      const second = await startServer({ port });
      await alice.reaches('live', before);
      expect(await alice.client.users()).to.deep.equal(['alice']);
      expect(second.server.registry.get('/channel', '1')!.members.has('alice')).to.equal(true);
    });

    it('replaces a link that stays silent beyond idleTimeout', async () => {
      const { child, stderr } = spawnRooms(['--port', '0', '--log-level', 'silent']);
      const [, port] = await waitForOutput(child, stderr, /ws:\/\/127\.0\.0\.1:(\d+)\//, 'stderr');
      // A stopped server keeps its sockets open but says nothing: the link is dead, not closed.
      onCleanup(() => {
        child.kill('SIGCONT');
      });
      const alice = roomsClient(`ws://127.0.0.1:${port}/channel?id=1`, { user: 'alice', idleTimeout: 400, connectTimeout: 400, minDelay: 50, maxDelay: 100 });
      await alice.client.connect();
      const before = alice.states.length;
      child.kill('SIGSTOP');
      expect(await alice.reaches('reconnecting', before)).to.include({ code: 1006, reason: 'no traffic for 400 ms' });
      child.kill('SIGCONT');
      await alice.reaches('live', before);
      expect(await alice.client.users()).to.deep.equal(['alice']);
    });
  });

  it('the example in docs/client.md runs as written, importing rooms-server/client', async () => {
    const { url } = await startServer();
    const script = fileURLToPath(new URL('../docs/examples/client.mjs', import.meta.url));
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [script, url('1'), 'alice']);
    expect(stdout).to.equal('alice: hello from the library\nsent as seq 1\nmembers: alice\n');
    expect(stderr).to.equal('state: connecting\nstate: live\nstate: offline\n');
  });

  describe('parts', () => {
    it('backoff doubles from minDelay up to maxDelay, with jitter between half and all of it', () => {
      const options = { minDelay: 100, maxDelay: 1_000 };
      expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, options, () => 1))).to.deep.equal([100, 200, 400, 800, 1_000, 1_000]);
      expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, options, () => 0))).to.deep.equal([50, 100, 200, 400, 500, 500]);
    });

    it('ignores frames it cannot read rather than throwing', () => {
      for (const data of ['not json', '[1]', '{"event":"message","message":"x"}', '{"event":"ack"}', '{"event":"somethingnew"}', Buffer.from('{}')]) {
        expect(parseIncoming(data), String(data)).to.equal(null);
      }
      expect(parseIncoming('{"event":"message","message":"x","from":"a","channel":"1","ts":1}')).to.deep.equal({ event: 'message', message: { message: 'x', from: 'a', channel: '1', ts: 1 } });
    });
  });
});
