import { expect } from 'chai';
import { connect, join } from './support/client.js';
import { startServer } from './support/server.js';

describe('protocol v1', () => {
  describe('auth', () => {
    it('names the connection and replies with a token', async () => {
      const { url } = await startServer();
      const client = await connect(url('1'));
      const reply = await client.request({ event: 'auth', message: 'auth', user: 'alice' });
      expect(reply.event).to.equal('token');
      expect(reply.message).to.be.a('string').with.length.above(20);
    });

    it('trims the name', async () => {
      const { url } = await startServer();
      const { client, token } = await join(url('1'), '  alice ');
      const list = await client.request({ event: 'user_list', auth: token });
      expect(list).to.deep.equal({ event: 'user_list', message: ['alice'] });
    });

    it('refuses a missing name with the seed words and closes with 4400', async () => {
      const { url } = await startServer();
      const client = await connect(url('1'));
      const reply = await client.request({ event: 'auth' });
      expect(reply).to.deep.equal({ event: 'error', code: 'invalid_name', message: 'auth error,no user' });
      expect(await client.closed).to.deep.equal({ code: 4400, reason: 'auth error,no user' });
    });

    for (const [label, user] of [
      ['longer than 32 characters', 'x'.repeat(33)],
      ['with a control character', 'ali\u0007ce'],
      ['with a right-to-left override', 'alice\u202Eevil'],
      ['with a lone surrogate', 'ali\ud800ce'],
      ['blank after trimming', '   '],
      ['not a string', 42],
    ] as const) {
      it(`refuses a name ${label} and closes with 4400`, async () => {
        const { url } = await startServer();
        const client = await connect(url('1'));
        const reply = await client.request({ event: 'auth', user });
        expect(reply.code).to.equal('invalid_name');
        expect(reply.message).to.equal('auth error,invalid user name: use 1 to 32 characters, no control characters');
        expect((await client.closed).code).to.equal(4400);
      });
    }

    it('accepts a name of exactly 32 characters', async () => {
      const { url } = await startServer();
      const { token } = await join(url('1'), 'é'.repeat(32));
      expect(token).to.be.a('string');
    });

    it('refuses a name taken in the channel with the seed words and closes with 4409', async () => {
      const { url } = await startServer();
      const alice = await join(url('1'), 'alice');
      const second = await connect(url('1'));
      const reply = await second.request({ event: 'auth', user: 'alice', id: 'a1' });
      expect(reply).to.deep.equal({ event: 'error', code: 'name_taken', message: 'auth error,user name already exist', re: 'a1' });
      expect(await second.closed).to.deep.equal({ code: 4409, reason: 'auth error,user name already exist' });
      const list = await alice.client.request({ event: 'user_list', auth: alice.token });
      expect(list.message).to.deep.equal(['alice']);
    });

    it('allows the same name in another channel', async () => {
      const { url } = await startServer();
      await join(url('1'), 'alice');
      const { token } = await join(url('2'), 'alice');
      expect(token).to.be.a('string');
    });

    it('frees the name when its connection ends', async () => {
      const { url } = await startServer();
      const first = await join(url('1'), 'alice');
      first.client.send({ event: 'close' });
      await first.client.closed;
      const again = await join(url('1'), 'alice');
      expect(again.token).to.not.equal(first.token);
    });

    it('refuses a second auth on the same connection and keeps it open', async () => {
      const { url } = await startServer();
      const { client, token } = await join(url('1'), 'alice');
      const reply = await client.request({ event: 'auth', user: 'bob' });
      expect(reply).to.deep.include({ event: 'error', code: 'already_authenticated' });
      const list = await client.request({ event: 'user_list', auth: token });
      expect(list.message).to.deep.equal(['alice']);
    });
  });

  describe('requests before auth', () => {
    for (const event of ['user_list', 'talk_with', 'broadcast', 'helloworld']) {
      it(`${event} gets not_authenticated and the connection stays open`, async () => {
        const { url } = await startServer();
        const client = await connect(url('1'));
        const reply = await client.request({ event, message: 'x', id: 9 });
        expect(reply).to.deep.equal({ event: 'error', code: 'not_authenticated', message: 'not authenticated: send {"event":"auth","user":NAME} first', re: 9 });
        expect((await client.request({ event: 'auth', user: 'alice' })).event).to.equal('token');
      });
    }

    it('a binary frame gets not_authenticated', async () => {
      const { url } = await startServer();
      const client = await connect(url('1'));
      client.send(Buffer.from([1, 2, 3]));
      expect((await client.next('error')).code).to.equal('not_authenticated');
    });
  });

  describe('user_list', () => {
    it('lists the members in the order they joined', async () => {
      const { url } = await startServer();
      await join(url('1'), 'alice');
      await join(url('1'), 'bob');
      const carol = await join(url('1'), 'carol');
      const reply = await carol.client.request({ event: 'user_list', auth: carol.token, id: 'x' });
      expect(reply).to.deep.equal({ event: 'user_list', message: ['alice', 'bob', 'carol'], re: 'x' });
    });

    it('leaves out connections that have not sent auth', async () => {
      const { url } = await startServer();
      await connect(url('1'));
      const alice = await join(url('1'), 'alice');
      expect((await alice.client.request({ event: 'user_list', auth: alice.token })).message).to.deep.equal(['alice']);
    });
  });

  describe('tokens', () => {
    it('a request without its token gets bad_token with the seed words, and the connection stays open', async () => {
      const { url } = await startServer();
      const { client, token } = await join(url('1'), 'alice');
      const reply = await client.request({ event: 'user_list' });
      expect(reply).to.deep.equal({ event: 'error', code: 'bad_token', message: 'auth error,no token' });
      expect((await client.request({ event: 'user_list', auth: token })).event).to.equal('user_list');
    });

    it('the seed base64 token of the name is refused', async () => {
      const { url } = await startServer();
      const { client } = await join(url('1'), 'alice');
      const reply = await client.request({ event: 'talk_with', auth: Buffer.from('alice').toString('base64'), message: 'x' });
      expect(reply).to.deep.equal({ event: 'error', code: 'bad_token', message: 'auth error,bad token: send the token from your "token" reply' });
    });

    it("another connection's token is refused, even for the same name after a reconnect", async () => {
      const { url } = await startServer();
      const first = await join(url('1'), 'alice');
      first.client.send({ event: 'close' });
      await first.client.closed;
      const second = await join(url('1'), 'alice');
      const reply = await second.client.request({ event: 'user_list', auth: first.token });
      expect(reply.code).to.equal('bad_token');
    });

    it("a token is refused on a connection of another user", async () => {
      const { url } = await startServer();
      const alice = await join(url('1'), 'alice');
      const bob = await join(url('1'), 'bob');
      const reply = await bob.client.request({ event: 'talk_with', auth: alice.token, message: 'as alice' });
      expect(reply.code).to.equal('bad_token');
    });

    it('a token that is not a string is refused', async () => {
      const { url } = await startServer();
      const { client } = await join(url('1'), 'alice');
      expect((await client.request({ event: 'user_list', auth: 12 })).code).to.equal('bad_token');
    });

    it('broadcast takes no token, but a wrong one is refused', async () => {
      const { url } = await startServer();
      const { client } = await join(url('1'), 'alice');
      expect((await client.request({ event: 'broadcast', message: 'ok' })).event).to.equal('message');
      expect((await client.request({ event: 'broadcast', message: 'no', auth: 'forged' })).code).to.equal('bad_token');
    });
  });

  describe('talk_with', () => {
    it('with with_cilents delivers to each named member only, with from, channel, to, seq and ts', async () => {
      const { url } = await startServer();
      const alice = await join(url('room-9'), 'alice');
      const bob = await join(url('room-9'), 'bob');
      const carol = await join(url('room-9'), 'carol');
      const before = Date.now();
      alice.client.send({ event: 'talk_with', auth: alice.token, message: 'psst', with_cilents: ['bob'] });
      const got = await bob.client.next('message');
      expect(got).to.deep.include({ event: 'message', message: 'psst', from: 'alice', channel: 'room-9', to: ['bob'], seq: 1 });
      expect(got.ts).to.be.within(before, Date.now());
      carol.client.send({ event: 'broadcast', message: 'marker' });
      expect((await carol.client.next('message')).message).to.equal('marker');
      expect((await alice.client.next('message')).message).to.equal('marker');
    });

    it('delivers one message to several named members, with one seq', async () => {
      const { url } = await startServer();
      const alice = await join(url('1'), 'alice');
      const bob = await join(url('1'), 'bob');
      const carol = await join(url('1'), 'carol');
      alice.client.send({ event: 'talk_with', auth: alice.token, message: { text: 'hi' }, with_clients: ['bob', 'carol'] });
      const [b, c] = await Promise.all([bob.client.next('message'), carol.client.next('message')]);
      expect(b).to.deep.include({ message: { text: 'hi' }, from: 'alice', to: ['bob', 'carol'], seq: 1 });
      expect(c).to.deep.equal(b);
    });

    it('names each member not in the channel in an error to the sender, and still delivers to the rest', async () => {
      const { url } = await startServer();
      const alice = await join(url('1'), 'alice');
      const bob = await join(url('1'), 'bob');
      alice.client.send({ event: 'talk_with', auth: alice.token, message: 'x', with_cilents: ['zed', 'bob'], id: 5 });
      expect(await alice.client.next()).to.deep.equal({ event: 'error', code: 'no_such_user', message: 'user alice send to zed error', user: 'zed', re: 5 });
      expect(await alice.client.next()).to.deep.equal({ event: 'ack', re: 5, seq: 1 });
      expect(await bob.client.next('message')).to.deep.include({ message: 'x', to: ['bob'] });
    });

    it('refuses recipients that are not a non-empty list of names', async () => {
      const { url } = await startServer();
      const { client, token } = await join(url('1'), 'alice');
      for (const bad of [[], 'bob', [1]]) {
        const reply = await client.request({ event: 'talk_with', auth: token, message: 'x', with_cilents: bad });
        expect(reply).to.deep.equal({ event: 'error', code: 'bad_recipients', message: 'with_clients must be a non-empty array of user names' });
      }
    });

    it('without recipients publishes to every member but the sender', async () => {
      const { url } = await startServer();
      const alice = await join(url('1'), 'alice');
      const bob = await join(url('1'), 'bob');
      const carol = await join(url('1'), 'carol');
      alice.client.send({ event: 'talk_with', auth: alice.token, message: 'hello all', id: 'p' });
      expect(await alice.client.next()).to.deep.equal({ event: 'ack', re: 'p', seq: 1 });
      for (const c of [bob.client, carol.client]) expect(await c.next('message')).to.deep.include({ message: 'hello all', from: 'alice', seq: 1 });
      expect(alice.client.pending).to.equal(0);
    });

    it('refuses a message without message', async () => {
      const { url } = await startServer();
      const { client, token } = await join(url('1'), 'alice');
      expect(await client.request({ event: 'talk_with', auth: token })).to.deep.equal({ event: 'error', code: 'bad_message', message: 'message is required' });
    });
  });

  describe('broadcast', () => {
    it('delivers to every member, the sender too, with seq one more per message', async () => {
      const { url } = await startServer();
      const alice = await join(url('1'), 'alice');
      const bob = await join(url('1'), 'bob');
      alice.client.send({ event: 'broadcast', message: 'one' });
      alice.client.send({ event: 'broadcast', message: 'two' });
      for (const c of [alice.client, bob.client]) {
        expect(await c.next('message')).to.deep.include({ message: 'one', from: 'alice', channel: '1', seq: 1 });
        expect(await c.next('message')).to.deep.include({ message: 'two', seq: 2 });
      }
    });

    it("keeps each member's order when one tick holds broadcasts and a direct message", async () => {
      const { url } = await startServer();
      const alice = await join(url('1'), 'alice');
      const bob = await join(url('1'), 'bob');
      const carol = await join(url('1'), 'carol');
      alice.client.send({ event: 'broadcast', message: 'm1' });
      alice.client.send({ event: 'talk_with', auth: alice.token, message: 'd', with_clients: ['bob'] });
      alice.client.send({ event: 'broadcast', message: 'm2' });
      const got = async (c: typeof bob.client, n: number): Promise<unknown[]> => {
        const out: unknown[] = [];
        for (let i = 0; i < n; i += 1) out.push((await c.next('message')).message);
        return out;
      };
      expect(await got(bob.client, 3)).to.deep.equal(['m1', 'd', 'm2']);
      expect(await got(carol.client, 2)).to.deep.equal(['m1', 'm2']);
      expect(await got(alice.client, 2)).to.deep.equal(['m1', 'm2']);
    });

    it('keeps seq per channel', async () => {
      const { url } = await startServer();
      const a = await join(url('1'), 'alice');
      const b = await join(url('2'), 'bob');
      expect((await a.client.request({ event: 'broadcast', message: 'x' })).seq).to.equal(1);
      expect((await b.client.request({ event: 'broadcast', message: 'y' })).seq).to.equal(1);
      expect((await a.client.request({ event: 'broadcast', message: 'z' })).seq).to.equal(2);
    });

    it('with an id, the sender gets its message and then an ack carrying re and seq', async () => {
      const { url } = await startServer();
      const { client } = await join(url('1'), 'alice');
      client.send({ event: 'broadcast', message: 'hi', id: 'req-1' });
      expect((await client.next('message')).seq).to.equal(1);
      expect(await client.next()).to.deep.equal({ event: 'ack', re: 'req-1', seq: 1 });
    });
  });

  describe('helloworld', () => {
    it('every member gets "helloworld M" (seed C2)', async () => {
      const { url } = await startServer();
      const alice = await join(url('1'), 'alice');
      const bob = await join(url('1'), 'bob');
      alice.client.send({ event: 'helloworld', message: 'there' });
      for (const c of [alice.client, bob.client]) expect(await c.next()).to.deep.equal({ event: 'helloworld', message: 'helloworld there' });
    });
  });

  describe('close', () => {
    it('closes the connection with 1000', async () => {
      const { url } = await startServer();
      const { client } = await join(url('1'), 'alice');
      client.send({ event: 'close' });
      expect((await client.closed).code).to.equal(1000);
    });

    it('works before auth too', async () => {
      const { url } = await startServer();
      const client = await connect(url('1'));
      client.send({ event: 'close' });
      expect((await client.closed).code).to.equal(1000);
    });
  });

  describe('error events from clients', () => {
    it('are logged and answered with nothing', async () => {
      const { url } = await startServer();
      const { client, token } = await join(url('1'), 'alice');
      client.send({ event: 'error', message: 'unkonwn command' });
      expect((await client.request({ event: 'user_list', auth: token })).event).to.equal('user_list');
    });
  });

  describe('bad frames keep the connection open', () => {
    const cases: [string, string, Record<string, unknown>][] = [
      ['text that is not JSON', 'hello', { event: 'error', code: 'bad_json', message: 'message is not json' }],
      ['JSON that is not an object', '[1,2]', { event: 'error', code: 'bad_event', message: 'frame must be a JSON object with an "event" string' }],
      ['null', 'null', { event: 'error', code: 'bad_event', message: 'frame must be a JSON object with an "event" string' }],
      ['an object without event', '{"message":"x"}', { event: 'error', code: 'no_event', message: 'no event' }],
      ['an event that is not a string', '{"event":5,"id":1}', { event: 'error', code: 'bad_event', message: 'frame must be a JSON object with an "event" string', re: 1 }],
      ['an unknown event', '{"event":"dance","id":"d"}', { event: 'error', code: 'unknown_event', message: 'unkonwn command', re: 'd' }],
      ['an unusable id', '{"event":"user_list","id":{"a":1}}', { event: 'error', code: 'bad_id', message: 'id must be a string of at most 64 characters or a finite number' }],
      ['a presence flag that is not a boolean', '{"event":"auth","user":"x","presence":"yes"}', { event: 'error', code: 'bad_presence', message: 'presence must be true or false' }],
      ['__proto__ keys', '{"event":"broadcast","__proto__":{"polluted":1},"message":"m","id":"p"}', { event: 'error', code: 'not_authenticated', message: 'not authenticated: send {"event":"auth","user":NAME} first', re: 'p' }],
    ];
    for (const [label, frame, expected] of cases) {
      it(`${label} gets ${String(expected.code)}`, async () => {
        const { url } = await startServer();
        const client = await connect(url('1'));
        expect(await client.request(frame)).to.deep.equal(expected);
        expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
        expect((await client.request({ event: 'auth', user: 'alice' })).event).to.equal('token');
      });
    }
  });

  describe('binary frames', () => {
    it('from a named member are relayed unchanged to the other members (seed C1)', async () => {
      const { url } = await startServer();
      const alice = await join(url('1'), 'alice');
      const bob = await join(url('1'), 'bob');
      const carol = await join(url('1'), 'carol');
      const bytes = Buffer.from([0, 1, 2, 250, 255]);
      alice.client.send(bytes);
      for (const c of [bob.client, carol.client]) expect(await c.nextBinary()).to.deep.equal(bytes);
      alice.client.send({ event: 'broadcast', message: 'after' });
      expect((await alice.client.next('message')).message).to.equal('after');
    });
  });

  describe('presence', () => {
    it('a member that asked for it gets join and leave; one that did not gets neither', async () => {
      const { url } = await startServer();
      const watcher = await join(url('1'), 'watcher', { presence: true });
      const quiet = await join(url('1'), 'quiet');
      expect(await watcher.client.next()).to.deep.equal({ event: 'join', user: 'quiet' });
      const bob = await join(url('1'), 'bob');
      expect(await watcher.client.next()).to.deep.equal({ event: 'join', user: 'bob' });
      bob.client.terminate();
      expect(await watcher.client.next()).to.deep.equal({ event: 'leave', user: 'bob' });
      quiet.client.send({ event: 'close' });
      expect(await watcher.client.next()).to.deep.equal({ event: 'leave', user: 'quiet' });
    });

    it('a connection that never authenticated causes no leave', async () => {
      const { url } = await startServer();
      const watcher = await join(url('1'), 'watcher', { presence: true });
      const anon = await connect(url('1'));
      anon.terminate();
      await anon.closed;
      await join(url('1'), 'bob');
      expect(await watcher.client.next()).to.deep.equal({ event: 'join', user: 'bob' });
    });
  });
});
