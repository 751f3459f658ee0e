import { expect } from 'chai';
import { join } from './support/client.js';
import { startServer } from './support/server.js';

describe('plain HTTP', () => {
  it('GET /healthz reports status, uptime, channels and connections', async () => {
    const { http, url } = await startServer();
    await join(url('1'), 'alice');
    const res = await fetch(http('/healthz'));
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).to.include({ status: 'ok', channels: 1, connections: 1 });
    expect(body.uptime).to.be.a('number');
  });

  it('GET /livez and GET /readyz answer 200 ok while the server is up', async () => {
    const { http } = await startServer();
    for (const path of ['/livez', '/readyz']) {
      const res = await fetch(http(path));
      expect(res.status, path).to.equal(200);
      expect(res.headers.get('content-type'), path).to.match(/^application\/json/);
      expect(await res.json(), path).to.deep.equal({ status: 'ok' });
    }
  });

  it('GET /readyz answers 503 degraded while Redis is unreachable; /livez and /healthz still 200', async () => {
    const { http } = await startServer({ redis: 'redis://127.0.0.1:1' });
    const ready = await fetch(http('/readyz'));
    expect(ready.status).to.equal(503);
    expect(await ready.json()).to.deep.equal({ status: 'degraded' });
    const live = await fetch(http('/livez'));
    expect(live.status).to.equal(200);
    expect(await live.json()).to.deep.equal({ status: 'ok' });
    const health = await fetch(http('/healthz'));
    expect(health.status).to.equal(200);
    expect(await health.json()).to.include({ status: 'degraded', engine: 'redis' });
  });

  it('GET /channels lists each channel with path, id, members and created time, to a holder of an API key', async () => {
    const key = 'backend-key-0123456789';
    const { http, url } = await startServer({ paths: ['/channel', '/room'], apiKeys: [{ name: 'backend', key }] });
    await join(url('1'), 'alice');
    await join(url('1'), 'bob');
    await join(url('7', '/room'), 'carol');
    const body = (await (await fetch(http('/channels'), { headers: { Authorization: `Bearer ${key}` } })).json()) as { channels: Record<string, unknown>[] };
    const rows = body.channels.map(({ created, ...rest }) => {
      expect(Date.parse(created as string)).to.be.a('number').and.not.NaN;
      return rest;
    });
    expect(rows).to.deep.equal([
      { path: '/channel', id: '1', members: 2, connections: 2 },
      { path: '/room', id: '7', members: 1, connections: 1 },
    ]);
  });

  it('GET /channels tells nothing without an API key: 403 api_off when none is configured, 401 for a missing or wrong one', async () => {
    const open = await startServer();
    await join(open.url('secret-conversation'), 'alice');
    const off = await fetch(open.http('/channels'));
    expect(off.status).to.equal(403);
    const offText = await off.text();
    expect(JSON.parse(offText)).to.have.nested.property('error.code', 'api_off');
    expect(offText).to.not.include('secret-conversation');
    const keyed = await startServer({ apiKeys: [{ name: 'backend', key: 'backend-key-0123456789' }] });
    await join(keyed.url('secret-conversation'), 'alice');
    for (const headers of [{}, { Authorization: 'Bearer wrong-key-0123456789' }] as Record<string, string>[]) {
      const res = await fetch(keyed.http('/channels'), { headers });
      expect(res.status).to.equal(401);
      const text = await res.text();
      expect(JSON.parse(text)).to.have.nested.property('error.code', 'unauthorized');
      expect(text).to.not.include('secret-conversation');
    }
  });

  it('answers any other path with a JSON 404', async () => {
    const { http } = await startServer();
    const res = await fetch(http('/nope'));
    expect(res.status).to.equal(404);
    expect(await res.json()).to.deep.equal({ error: { code: 'not_found', message: 'no route /nope; try /healthz, /channels, /metrics, /api or /admin' } });
  });

  it('answers a plain GET on a channel path with 426 saying to connect over WebSocket', async () => {
    const { http } = await startServer();
    const res = await fetch(http('/channel?id=1'));
    expect(res.status).to.equal(426);
    expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('upgrade_required');
  });

  it('answers a POST on an endpoint with 405 and Allow', async () => {
    const { http } = await startServer();
    const res = await fetch(http('/healthz'), { method: 'POST' });
    expect(res.status).to.equal(405);
    expect(res.headers.get('allow')).to.equal('GET, HEAD');
    await res.body?.cancel();
  });
});
