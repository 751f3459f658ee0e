import { expect } from 'chai';
import { connect, join } from './support/client.js';
import { eventually } from './support/eventually.js';
import { startServer } from './support/server.js';

describe('liveness', () => {
  it('closes a connection that has not sent auth within authTimeout with 4408', async () => {
    const { url, server } = await startServer({ authTimeout: 50 });
    const client = await connect(url('1'));
    expect(await client.next()).to.deep.equal({ event: 'error', code: 'auth_timeout', message: 'auth timeout: send auth within the deadline' });
    expect(await client.closed).to.deep.equal({ code: 4408, reason: 'auth timeout: send auth within the deadline' });
    await eventually(() => server.connections === 0, 'the server to drop the connection');
  });

  it('keeps a connection that authenticated in time past the deadline', async () => {
    const { url } = await startServer({ authTimeout: 50 });
    const late = await connect(url('1'));
    const { client, token } = await join(url('1'), 'alice');
    await late.closed;
    const list = await client.request({ event: 'user_list', auth: token });
    expect(list.message).to.deep.equal(['alice']);
  });

  it('terminates a member that does not answer pings, and the others get its leave', async () => {
    const { url } = await startServer({ heartbeatInterval: 40 });
    const watcher = await join(url('1'), 'watcher', { presence: true });
    const mute = await connect(url('1'), { autoPong: false });
    expect((await mute.request({ event: 'auth', user: 'mute' })).event).to.equal('token');
    expect(await watcher.client.next()).to.deep.equal({ event: 'join', user: 'mute' });
    expect(await watcher.client.next()).to.deep.equal({ event: 'leave', user: 'mute' });
    expect((await mute.closed).code).to.equal(1006);
    const list = await watcher.client.request({ event: 'user_list', auth: watcher.token });
    expect(list.message).to.deep.equal(['watcher']);
  });

  it('keeps members that answer pings across many heartbeats', async () => {
    const { url } = await startServer({ heartbeatInterval: 20 });
    const { client } = await join(url('1'), 'alice');
    let pings = 0;
    await new Promise<void>((resolve) => {
      client.ws.on('ping', () => {
        pings += 1;
        if (pings === 5) resolve();
      });
    });
    expect((await client.request({ event: 'broadcast', message: 'still here' })).message).to.equal('still here');
  });
});
