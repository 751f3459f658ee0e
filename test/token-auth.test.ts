import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { createRoomServer } from '../src/index.js';
import { connect, join } from './support/client.js';
import { runRooms } from './support/cli.js';
import { openSocket, rawRequest, upgradeRequest } from './support/raw.js';
import { startServer } from './support/server.js';

const SECRET = 'a-secret-shared-with-the-app-0123456789';
const now = (): number => Math.floor(Date.now() / 1000);

function mint(claims: { sub?: string; channels?: string[]; exp?: number }, secret = SECRET): Promise<string> {
  const { sub, exp, ...rest } = claims;
  const jwt = new SignJWT(rest).setProtectedHeader({ alg: 'HS256' });
  if (sub !== undefined) jwt.setSubject(sub);
  jwt.setExpirationTime(exp ?? now() + 300);
  return jwt.sign(new TextEncoder().encode(secret));
}

const tokenServer = (options = {}) => startServer({ authMode: 'token', jwtSecret: SECRET, ...options });

describe('token mode', () => {
  it('takes the name from a ?token= JWT; auth needs no user', async () => {
    const { url } = await tokenServer();
    const client = await connect(`${url('1')}&token=${await mint({ sub: 'alice', channels: ['1'] })}`);
    const reply = await client.request({ event: 'auth', user: 'mallory' }, 'token');
    const list = await client.request({ event: 'user_list', auth: reply.message }, 'user_list');
    expect(list.message).to.deep.equal(['alice']);
  });

  it('takes the token from Authorization: Bearer', async () => {
    const { url } = await tokenServer();
    const client = await connect(url('1'), { headers: { Authorization: `Bearer ${await mint({ sub: 'bob' })}` } });
    expect((await client.request({ event: 'auth' })).event).to.equal('token');
  });

  it('takes the token from the auth event', async () => {
    const { url } = await tokenServer();
    const client = await connect(url('1'));
    const reply = await client.request({ event: 'auth', token: await mint({ sub: 'carol' }), id: 3 });
    expect(reply).to.include({ event: 'token', re: 3 });
  });

  it('lets path:id patterns with * choose channels', async () => {
    const { url } = await tokenServer({ paths: ['/channel', '/room'] });
    const token = await mint({ sub: 'dan', channels: ['/room:team-*'] });
    expect((await (await connect(`${url('team-7', '/room')}&token=${token}`)).request({ event: 'auth' })).event).to.equal('token');
  });

  describe('at the upgrade, answers 401 with one line', () => {
    async function refusal(query: string) {
      const { port } = await tokenServer();
      return rawRequest(await openSocket(port), upgradeRequest(`/channel?id=1&token=${query}`));
    }

    it('for a token signed with another secret', async () => {
      const res = await refusal(await mint({ sub: 'eve' }, 'another-secret-that-is-long-enough-000'));
      expect(res.status).to.equal(401);
      expect(res.body).to.equal("bad token: not a JWT signed with this server's secret (HS256)\n");
    });

    it('for an expired token', async () => {
      const res = await refusal(await mint({ sub: 'eve', exp: now() - 10 }));
      expect(res.status).to.equal(401);
      expect(res.body).to.equal('token expired\n');
    });

    it('for a token of another channel', async () => {
      const res = await refusal(await mint({ sub: 'eve', channels: ['2'] }));
      expect(res.status).to.equal(401);
      expect(res.body).to.equal('token does not allow channel 1 under /channel\n');
    });

    it('for a token without sub', async () => {
      const res = await refusal(await mint({}));
      expect(res.status).to.equal(401);
      expect(res.body).to.equal('bad token: no sub naming the user\n');
    });
  });

  it('a bad token in the auth event gets bad_token and a 4401 close', async () => {
    const { url } = await tokenServer();
    const client = await connect(url('1'));
    const reply = await client.request({ event: 'auth', token: 'not.a.jwt' });
    expect(reply).to.deep.equal({ event: 'error', code: 'bad_token', message: "bad token: not a JWT signed with this server's secret (HS256)" });
    expect((await client.closed).code).to.equal(4401);
  });

  it('auth without any token gets bad_token and a 4401 close', async () => {
    const { url } = await tokenServer();
    const client = await connect(url('1'));
    expect((await client.request({ event: 'auth', user: 'alice' })).message).to.equal('auth error,no token: this server needs a token from your application');
    expect(await client.closed).to.deep.equal({ code: 4401, reason: 'auth error,no token: this server needs a token from your application' });
  });

  it('closes a member whose token expires with 4401 "token expired"', async () => {
    const { url } = await tokenServer();
    const client = await connect(`${url('1')}&token=${await mint({ sub: 'alice', exp: now() + 1 })}`);
    await client.request({ event: 'auth' }, 'token');
    expect(await client.next('error')).to.deep.include({ code: 'token_expired' });
    expect(await client.closed).to.deep.equal({ code: 4401, reason: 'token expired' });
  });

  it('a refresh with a fresh token for the same user pushes the expiry back', async () => {
    const { url } = await tokenServer();
    const first = now() + 1;
    const client = await connect(`${url('1')}&token=${await mint({ sub: 'alice', exp: first })}`);
    await client.request({ event: 'auth' }, 'token');
    const later = now() + 3;
    expect(await client.request({ event: 'refresh', token: await mint({ sub: 'alice', exp: later }), id: 'r' })).to.deep.equal({ event: 'refresh', exp: later, re: 'r' });
    await client.closed;
    // The connection outlived the first token's exp and ended at the refreshed one.
    expect(Date.now()).to.be.at.least(first * 1000 + 1_000);
  });

  it("a refresh with another user's token is refused and the connection stays open", async () => {
    const { url } = await tokenServer();
    const client = await connect(`${url('1')}&token=${await mint({ sub: 'alice' })}`);
    const { message: token } = await client.request({ event: 'auth' }, 'token');
    const reply = await client.request({ event: 'refresh', token: await mint({ sub: 'bob' }) });
    expect(reply).to.deep.equal({ event: 'error', code: 'bad_token', message: 'bad token: it is for bob, not alice' });
    expect((await client.request({ event: 'user_list', auth: token })).message).to.deep.equal(['alice']);
  });

  it('refuses to start without jwtSecret', () => {
    expect(() => createRoomServer({ authMode: 'token' })).to.throw(TypeError, 'authMode token needs jwtSecret: set ROOMS_JWT_SECRET or jwtSecret in a config file');
  });

  it('in open mode, refresh is refused and the connection stays open', async () => {
    const { url } = await startServer();
    const { client, token } = await join(url('1'), 'alice');
    expect((await client.request({ event: 'refresh', token: 'x' })).message).to.equal('this server does not use tokens (authMode open)');
    expect((await client.request({ event: 'user_list', auth: token })).event).to.equal('user_list');
  });

  it('`rooms token` prints a token the server accepts', async () => {
    const { url } = await tokenServer();
    const { code, stdout } = await runRooms(['token', '--user', 'alice', '--channel', '1', '--ttl', '60'], { ROOMS_JWT_SECRET: SECRET });
    expect(code).to.equal(0);
    const client = await connect(`${url('1')}&token=${stdout.trim()}`);
    expect((await client.request({ event: 'auth' })).event).to.equal('token');
  });

  it('the Node example in docs/auth.md mints a token the server accepts', async () => {
    const { url } = await tokenServer();
    const script = fileURLToPath(new URL('../docs/examples/mint-token.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [script, 'zoe', '1'], { env: { ...process.env, ROOMS_JWT_SECRET: SECRET } });
    const client = await connect(`${url('1')}&token=${stdout.trim()}`);
    const reply = await client.request({ event: 'auth' }, 'token');
    expect((await client.request({ event: 'user_list', auth: reply.message })).message).to.deep.equal(['zoe']);
  });
});
