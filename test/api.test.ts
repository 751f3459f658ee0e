import { request as httpRequest } from 'node:http';
import { expect } from 'chai';
import { connect, join } from './support/client.js';
import { startServer, type Started } from './support/server.js';

const KEY = 'backend-key-0123456789';
const OTHER = 'reporting-key-0123456789';
const apiKeys = [
  { name: 'backend', key: KEY },
  { name: 'reporting', key: OTHER },
];

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | null;
}

/** Calls the API with the backend key (or `key`), and reads the JSON answer. */
async function api(s: Started, method: string, path: string, body?: unknown, key: string | null = KEY): Promise<Answer> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(s.http(path), init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>) };
}

function code(answer: Answer): unknown {
  return (answer.body?.error as { code?: unknown } | undefined)?.code;
}

describe('HTTP API', () => {
  describe('keys', () => {
    it('answers 401 with WWW-Authenticate without a key, with an unknown key, or with a key not sent as Bearer', async () => {
      const s = await startServer({ apiKeys });
      for (const key of [null, 'backend-key-0123456780', `${KEY}x`]) {
        const answer = await api(s, 'GET', '/api/channels', undefined, key);
        expect(answer.status, String(key)).to.equal(401);
        expect(code(answer)).to.equal('unauthorized');
        expect(answer.headers.get('www-authenticate')).to.equal('Bearer realm="rooms"');
      }
      const basic = await fetch(s.http('/api/channels'), { headers: { Authorization: `Basic ${KEY}` } });
      expect(basic.status).to.equal(401);
      await basic.body?.cancel();
    });

    it('answers 403 api_off, saying how to turn the API on, to everything when no key is configured', async () => {
      const s = await startServer();
      for (const [method, path, key] of [['GET', '/api/channels', KEY], ['GET', '/api/channels', null], ['POST', '/api/channels/channel/1/messages', KEY], ['GET', '/api/nothing', null]] as const) {
        const answer = await api(s, method, path, method === 'POST' ? { message: 'hi' } : undefined, key);
        expect(answer.status, `${method} ${path}`).to.equal(403);
        expect(answer.body).to.deep.equal({
          error: { code: 'api_off', message: 'the API is off: no apiKeys are configured; set apiKeys in a config file or ROOMS_API_KEYS (see docs/api.md)' },
        });
        expect(answer.headers.get('www-authenticate')).to.equal(null);
      }
    });

    it('accepts every configured key', async () => {
      const s = await startServer({ apiKeys });
      expect((await api(s, 'GET', '/api/channels', undefined, OTHER)).status).to.equal(200);
    });
  });

  describe('GET /api/channels', () => {
    it('lists channels with members, connections, seq, created and last activity', async () => {
      const s = await startServer({ apiKeys, paths: ['/channel', '/room'] });
      const alice = await join(s.url('1'), 'alice');
      await connect(s.url('2', '/room'));
      alice.client.send({ event: 'broadcast', message: 'hi' });
      await alice.client.next('message');
      const answer = await api(s, 'GET', '/api/channels');
      expect(answer.status).to.equal(200);
      const channels = answer.body!.channels as Record<string, unknown>[];
      expect(channels.map(({ created, lastActivity, ...rest }) => {
        expect(Date.parse(created as string)).to.be.at.most(Date.parse(lastActivity as string));
        return rest;
      })).to.deep.equal([
        { path: '/channel', id: '1', members: 1, connections: 1, seq: 1 },
        { path: '/room', id: '2', members: 0, connections: 1, seq: 0 },
      ]);
    });

    it('answers a POST with 405 and Allow', async () => {
      const s = await startServer({ apiKeys });
      const answer = await api(s, 'POST', '/api/channels', {});
      expect(answer.status).to.equal(405);
      expect(answer.headers.get('allow')).to.equal('GET, HEAD');
      expect(code(answer)).to.equal('method_not_allowed');
    });
  });

  describe('GET /api/channels/{path}/{id}', () => {
    it('describes one channel with its members in join order', async () => {
      const s = await startServer({ apiKeys });
      await join(s.url('1'), 'alice');
      await join(s.url('1'), 'bob');
      const answer = await api(s, 'GET', '/api/channels/channel/1');
      expect(answer.status).to.equal(200);
      expect(answer.body).to.include({ path: '/channel', id: '1', connections: 2, seq: 0 });
      expect(answer.body!.members).to.deep.equal(['alice', 'bob']);
      expect(answer.body!.lastActivity).to.be.a('string');
    });

    it('finds a channel under a path with several segments, encoded', async () => {
      const s = await startServer({ apiKeys, paths: ['/chat/rooms'] });
      await join(s.url('7', '/chat/rooms'), 'alice');
      const answer = await api(s, 'GET', '/api/channels/chat%2Frooms/7');
      expect(answer.status).to.equal(200);
      expect(answer.body!.members).to.deep.equal(['alice']);
    });

    it('answers 404 no_such_channel, unknown_path, and 400 invalid_id', async () => {
      const s = await startServer({ apiKeys });
      expect(code(await api(s, 'GET', '/api/channels/channel/9'))).to.equal('no_such_channel');
      expect(code(await api(s, 'GET', '/api/channels/nope/1'))).to.equal('unknown_path');
      const bad = await api(s, 'GET', '/api/channels/channel/a%20b');
      expect([bad.status, code(bad)]).to.deep.equal([400, 'invalid_id']);
      expect(code(await api(s, 'GET', '/api/channels/channel/1/what'))).to.equal('not_found');
      expect(code(await api(s, 'GET', '/api/channels/channel'))).to.equal('not_found');
      expect(code(await api(s, 'GET', '/api/rooms'))).to.equal('not_found');
      expect(code(await api(s, 'GET', '/api/channels/%E0%A4%A'))).to.equal('bad_request');
    });
  });

  describe('POST /api/channels/{path}/{id}/messages', () => {
    it('delivers to every member as a member message would arrive, from the key name, and answers the seq', async () => {
      const s = await startServer({ apiKeys });
      const alice = await join(s.url('1'), 'alice');
      const bob = await join(s.url('1'), 'bob');
      alice.client.send({ event: 'broadcast', message: 'first' });
      await alice.client.next('message');
      await bob.client.next('message');
      const answer = await api(s, 'POST', '/api/channels/channel/1/messages', { message: { text: 'deploy done' } });
      expect(answer.status).to.equal(200);
      expect(answer.body).to.deep.include({ seq: 2 });
      expect(answer.body).to.have.property('epoch').that.is.a('string');
      for (const client of [alice.client, bob.client]) {
        const got = await client.next('message');
        expect(got).to.include({ event: 'message', from: 'backend', channel: '1', seq: 2 });
        expect(got.message).to.deep.equal({ text: 'deploy done' });
        expect(got.ts).to.be.a('number');
      }
    });

    it('delivers only to the members named in to', async () => {
      const s = await startServer({ apiKeys });
      const alice = await join(s.url('1'), 'alice');
      const bob = await join(s.url('1'), 'bob');
      const answer = await api(s, 'POST', '/api/channels/channel/1/messages', { message: 'psst', to: ['bob', 'bob'] });
      expect(answer.body).to.deep.include({ seq: 1 });
      expect(await bob.client.next('message')).to.deep.include({ message: 'psst', from: 'backend', to: ['bob'] });
      const list = await alice.client.request({ event: 'user_list', auth: alice.token }, 'user_list');
      expect(list.message).to.deep.equal(['alice', 'bob']);
      expect(alice.client.pending).to.equal(0);
    });

    it('sends nothing and answers 404 no_such_user with the missing names when one is not a member', async () => {
      const s = await startServer({ apiKeys });
      const bob = await join(s.url('1'), 'bob');
      const answer = await api(s, 'POST', '/api/channels/channel/1/messages', { message: 'psst', to: ['bob', 'carol'] });
      expect(answer.status).to.equal(404);
      expect(answer.body!.error).to.include({ code: 'no_such_user' });
      expect((answer.body!.error as { missing: unknown }).missing).to.deep.equal(['carol']);
      const list = await bob.client.request({ event: 'user_list', auth: bob.token }, 'user_list');
      expect(list.message).to.deep.equal(['bob']);
    });

    it('delivers a custom event name as the event', async () => {
      const s = await startServer({ apiKeys });
      const alice = await join(s.url('1'), 'alice');
      const answer = await api(s, 'POST', '/api/channels/channel/1/messages', { message: { id: 7 }, event: 'order.shipped' });
      expect(answer.status).to.equal(200);
      expect(await alice.client.next()).to.deep.include({ event: 'order.shipped', message: { id: 7 }, from: 'backend', seq: 1 });
    });

    for (const [label, body, status, expected] of [
      ['a body that is not JSON', '{"message":', 400, 'bad_request'],
      ['a body that is not an object', '[1]', 400, 'bad_request'],
      ['an unknown field', { message: 1, with_clients: ['a'] }, 400, 'bad_request'],
      ['no message', { to: ['alice'] }, 400, 'bad_message'],
      ['an empty to', { message: 1, to: [] }, 400, 'bad_recipients'],
      ['a to that is not names', { message: 1, to: [1] }, 400, 'bad_recipients'],
      ['too many recipients', { message: 1, to: ['a', 'b', 'c'] }, 400, 'too_many_recipients'],
      ['a protocol event name', { message: 1, event: 'join' }, 400, 'bad_event_name'],
      ['an event name with spaces', { message: 1, event: 'a b' }, 400, 'bad_event_name'],
      ['an event that is not a string', { message: 1, event: 5 }, 400, 'bad_event_name'],
      ['a message nested too deep', `{"message":${'['.repeat(70)}${']'.repeat(70)}}`, 400, 'message_too_deep'],
    ] as const) {
      it(`refuses ${label} with ${status} ${expected}`, async () => {
        const s = await startServer({ apiKeys, maxRecipients: 2 });
        await join(s.url('1'), 'alice');
        const answer = await api(s, 'POST', '/api/channels/channel/1/messages', body);
        expect(answer.status).to.equal(status);
        expect(code(answer)).to.equal(expected);
        expect((answer.body!.error as { message: string }).message).to.be.a('string').and.not.empty;
      });
    }

    it('refuses a body over apiMaxBodyBytes with 413, by Content-Length or by what arrives, and keeps serving', async () => {
      const s = await startServer({ apiKeys, apiMaxBodyBytes: 1_000 });
      await join(s.url('1'), 'alice');
      const big = JSON.stringify({ message: 'x'.repeat(2_000) });
      const answer = await api(s, 'POST', '/api/channels/channel/1/messages', big);
      expect([answer.status, code(answer)]).to.deep.equal([413, 'payload_too_large']);
      // Chunked, with no Content-Length: refused once the bytes pass the cap.
      const chunked = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(s.http('/api/channels/channel/1/messages'), { method: 'POST', headers: { Authorization: `Bearer ${KEY}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.write(big.slice(0, 900));
        req.write(big.slice(900));
        req.end();
      });
      expect(chunked).to.equal(413);
      expect((await api(s, 'POST', '/api/channels/channel/1/messages', { message: 'small' })).status).to.equal(200);
    });

    it('answers 405 with Allow: POST to a GET', async () => {
      const s = await startServer({ apiKeys });
      await join(s.url('1'), 'alice');
      const answer = await api(s, 'GET', '/api/channels/channel/1/messages');
      expect(answer.status).to.equal(405);
      expect(answer.headers.get('allow')).to.equal('POST');
    });
  });

  describe('DELETE /api/channels/{path}/{id}/members/{user}', () => {
    it('closes that member with 4403 "removed by the server" after an error event, and answers 204', async () => {
      const s = await startServer({ apiKeys });
      const alice = await join(s.url('1'), 'alice');
      const bob = await join(s.url('1'), 'bob', { presence: true });
      const answer = await api(s, 'DELETE', '/api/channels/channel/1/members/alice');
      expect(answer.status).to.equal(204);
      expect(await alice.client.next('error')).to.deep.equal({ event: 'error', code: 'removed', message: 'removed by the server' });
      expect(await alice.client.closed).to.deep.equal({ code: 4403, reason: 'removed by the server' });
      expect(await bob.client.next('leave')).to.deep.equal({ event: 'leave', user: 'alice' });
    });

    it('decodes the user name, and answers 404 no_such_user for one not there', async () => {
      const s = await startServer({ apiKeys });
      const anne = await join(s.url('1'), 'anne marie');
      expect(code(await api(s, 'DELETE', '/api/channels/channel/1/members/bob'))).to.equal('no_such_user');
      expect((await api(s, 'DELETE', '/api/channels/channel/1/members/anne%20marie')).status).to.equal(204);
      expect((await anne.client.closed).code).to.equal(4403);
    });
  });
});
