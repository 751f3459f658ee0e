import { expect } from 'chai';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { JwtVerifier } from '../src/auth/jwt.js';
import { EngineUnavailable, type Published } from '../src/engine/engine.js';
import type { RoomServerOptions } from '../src/index.js';
import { connect, join, type Client } from './support/client.js';
import { onCleanup } from './support/cleanup.js';
import { openSocket, rawRequest, upgradeRequest } from './support/raw.js';
import { startServer } from './support/server.js';

const SECRET = 'a-secret-shared-with-the-app-0123456789';

function mint(sub: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
}

/** An error line as pino writes it. */
interface Logged {
  msg: string;
  err?: { type: string; message: string };
}

/** A server whose error log the test reads, line by line, as pino writes it. */
async function serverWithLog(options: RoomServerOptions = {}) {
  const logged: Logged[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line) as Logged) });
  return { ...(await startServer({ logger, ...options })), logged };
}

/** Puts `replacement` in place of `target[key]` until the returned function is called or the test ends. */
function replace<T extends object, K extends keyof T>(target: T, key: K, replacement: T[K]): () => void {
  const original = target[key];
  target[key] = replacement;
  const restore = (): void => {
    target[key] = original;
  };
  onCleanup(restore);
  return restore;
}

/** Makes the next call of an async method reject with `error`; the calls after it are the real ones. */
function failNext<T extends object, K extends keyof T>(target: T, key: K, error: Error): void {
  const restore = replace(target, key, (() => {
    restore();
    return Promise.reject(error);
  }) as T[K]);
}

/** What a bug in a connection's async work costs: that connection, with internal_error and 1011. */
async function expectInternalError(victim: Client): Promise<void> {
  expect(await victim.next('error')).to.include({ event: 'error', code: 'internal_error' });
  expect((await victim.closed).code).to.equal(1011);
}

/** A broadcast from carol, the bystander, still reaches her after the failure, and is acked. */
async function expectServed(bystander: Client): Promise<void> {
  const echo = await bystander.request({ event: 'broadcast', message: 'still served', id: 'after' }, 'message');
  expect(echo).to.include({ message: 'still served', from: 'carol' });
  expect(await bystander.next('ack')).to.include({ re: 'after' });
}

describe('async work of a connection', () => {
  let rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };
  beforeEach(() => {
    rejections = [];
    process.on('unhandledRejection', onRejection);
  });
  afterEach(() => {
    process.off('unhandledRejection', onRejection);
  });

  /** The failure was logged once, at error level, with the error thrown, and no promise was left rejected. */
  function expectLoggedOnce(logged: Logged[], msg: RegExp, injected: string): void {
    expect(logged).to.have.length(1);
    expect(logged[0].msg).to.match(msg);
    expect(logged[0].err).to.include({ type: 'TypeError', message: injected });
    expect(rejections, 'unhandled rejections').to.deep.equal([]);
  }

  describe('a bug costs that connection only (internal_error, 1011), logged once', () => {
    const rejected: { when: string; method: 'join' | 'recover' | 'members'; named: boolean; send: (token: string) => Record<string, unknown>; logged: RegExp }[] = [
      { when: 'in the name claim: engine.join throws', method: 'join', named: false, send: () => ({ event: 'auth', user: 'bob' }), logged: /^failed to claim a name/ },
      { when: 'in the name claim: engine.recover throws after the name was claimed', method: 'recover', named: false, send: () => ({ event: 'auth', user: 'bob' }), logged: /^failed to claim a name/ },
      { when: 'in user_list: engine.members throws', method: 'members', named: true, send: (token) => ({ event: 'user_list', auth: token }), logged: /^failed to list the users/ },
      {
        when: 'in a direct message to a member of another node: engine.members throws',
        method: 'members',
        named: true,
        send: (token) => ({ event: 'talk_with', auth: token, message: 'hi', with_cilents: ['elsewhere'] }),
        logged: /^failed to look up the recipients/,
      },
    ];
    for (const r of rejected) {
      it(r.when, async () => {
        const { server, url, logged } = await serverWithLog();
        const { client: carol } = await join(url('1'), 'carol');
        const victim = r.named ? await join(url('1'), 'bob') : { client: await connect(url('1')), token: '' };
        failNext(server.engine, r.method, new TypeError(`injected: ${r.method}`));
        victim.client.send(r.send(victim.token));
        await expectInternalError(victim.client);
        await expectServed(carol);
        expectLoggedOnce(logged, r.logged, `injected: ${r.method}`);
      });
    }

    it('after a publish: what engine.publish resolved to throws when read', async () => {
      const { server, url, logged } = await serverWithLog();
      const { client: carol } = await join(url('1'), 'carol');
      const { client: victim } = await join(url('1'), 'bob');
      const poisoned = new Proxy<Published>({ seq: 1, epoch: 'e', duplicate: false }, {
        // Not a thenable: the publish resolves, and only reading the result throws.
        get: (_, key) => {
          if (key === 'then') return undefined;
          throw new TypeError('injected: published');
        },
      });
      const restore = replace(server.engine, 'publish', () => {
        restore();
        return Promise.resolve(poisoned);
      });
      victim.send({ event: 'broadcast', message: 'lost', id: 'b1' });
      await expectInternalError(victim);
      await expectServed(carol);
      expectLoggedOnce(logged, /^failed to publish a message/, 'injected: published');
    });

    it('when a member leaves: engine.leave throws', async () => {
      const { server, url, logged } = await serverWithLog();
      const { client: carol } = await join(url('1'), 'carol');
      const { client: victim } = await join(url('1'), 'bob');
      let left = (): void => undefined;
      const leaving = new Promise<void>((resolve) => (left = resolve));
      const restore = replace(server.engine, 'leave', () => {
        restore();
        left();
        return Promise.reject(new TypeError('injected: leave'));
      });
      victim.send({ event: 'close' });
      expect((await victim.closed).code).to.equal(1000);
      await leaving;
      await expectServed(carol);
      expectLoggedOnce(logged, /^failed to leave the channel/, 'injected: leave');
    });

    describe('in token mode: the JWT verifier rejects', () => {
      const tokenServer = () => serverWithLog({ authMode: 'token', jwtSecret: SECRET });

      /** The next verify of any verifier (the server has one) rejects, as a bug in it would. */
      function breakVerify(): void {
        failNext(JwtVerifier.prototype, 'verify', new TypeError('injected: verify'));
      }

      it('at auth', async () => {
        const { url, logged } = await tokenServer();
        const carol = await connect(`${url('1')}&token=${await mint('carol')}`);
        await carol.request({ event: 'auth' }, 'token');
        const victim = await connect(url('1'));
        const token = await mint('bob');
        breakVerify();
        victim.send({ event: 'auth', token });
        await expectInternalError(victim);
        await expectServed(carol);
        expectLoggedOnce(logged, /^failed to verify a token/, 'injected: verify');
      });

      it('at refresh', async () => {
        const { url, logged } = await tokenServer();
        const carol = await connect(`${url('1')}&token=${await mint('carol')}`);
        await carol.request({ event: 'auth' }, 'token');
        const victim = await connect(url('1'));
        await victim.request({ event: 'auth', token: await mint('bob') }, 'token');
        const token = await mint('bob');
        breakVerify();
        victim.send({ event: 'refresh', token });
        await expectInternalError(victim);
        await expectServed(carol);
        expectLoggedOnce(logged, /^failed to refresh a token/, 'injected: verify');
      });

      it('at the upgrade: answers 500 with X-Rooms-Error: internal_error and closes the socket', async () => {
        const { port, url, logged } = await tokenServer();
        const carol = await connect(`${url('1')}&token=${await mint('carol')}`);
        await carol.request({ event: 'auth' }, 'token');
        const token = await mint('bob');
        breakVerify();
        const res = await rawRequest(await openSocket(port), upgradeRequest(`/channel?id=1&token=${token}`));
        expect(res.status).to.equal(500);
        expect(res.headers['x-rooms-error']).to.equal('internal_error');
        expect(res.closed).to.equal(true);
        await expectServed(carol);
        expectLoggedOnce(logged, /^failed to verify the upgrade's token/, 'injected: verify');
      });
    });
  });

  describe('a store outage is not a bug', () => {
    it('user_list answers with this node\'s members when engine.members is unavailable', async () => {
      const { server, url, logged } = await serverWithLog();
      const { client: carol, token } = await join(url('1'), 'carol');
      failNext(server.engine, 'members', new EngineUnavailable('injected'));
      expect((await carol.request({ event: 'user_list', auth: token }, 'user_list')).message).to.deep.equal(['carol']);
      await expectServed(carol);
      expect(logged).to.deep.equal([]);
      expect(rejections, 'unhandled rejections').to.deep.equal([]);
    });

    it('auth answers unavailable and keeps the connection when engine.join is unavailable', async () => {
      const { server, url, logged } = await serverWithLog();
      const { client: carol } = await join(url('1'), 'carol');
      const victim = await connect(url('1'));
      failNext(server.engine, 'join', new EngineUnavailable('injected'));
      expect(await victim.request({ event: 'auth', user: 'bob', id: 1 }, 'error')).to.include({ code: 'unavailable', re: 1 });
      expect(await victim.request({ event: 'auth', user: 'bob', id: 2 }, 'token')).to.include({ re: 2 });
      await expectServed(carol);
      expect(logged).to.deep.equal([]);
      expect(rejections, 'unhandled rejections').to.deep.equal([]);
    });
  });
});
