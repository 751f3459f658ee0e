import { expect } from 'chai';
import { connect, join, until, type Event } from './support/client.js';
import { eventually } from './support/eventually.js';
import { openSocket, rawRequest, upgradeRequest } from './support/raw.js';
import { startServer } from './support/server.js';

const isMessage = (e: Event): boolean => e.event === 'message';
const seqs = (events: Event[]): number[] => events.map((e) => e.seq as number);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('history and resume', () => {
  it('the token reply says where the channel stands: its epoch and seq', async () => {
    const { url } = await startServer();
    const alice = await join(url('1'), 'alice');
    alice.client.send({ event: 'broadcast', message: 'one' });
    const one = await alice.client.next('message');
    const bob = await connect(url('1'));
    const reply = await bob.request({ event: 'auth', user: 'bob' }, 'token');
    expect(reply.epoch).to.be.a('string').and.equal(one.epoch);
    expect(reply.seq).to.equal(1);
    expect(reply).to.not.have.property('recovered');
  });

  it('a client that comes back with since and epoch gets every message it missed, in order, then live ones', async () => {
    const { url } = await startServer();
    const alice = await join(url('1'), 'alice');
    const bob = await join(url('1'), 'bob');
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'before' });
    const last = await bob.client.next('message');
    bob.client.terminate();
    await bob.client.closed;
    for (let i = 1; i <= 5; i += 1) alice.client.send({ event: 'talk_with', auth: alice.token, message: `missed ${i}`, id: i });
    for (let i = 1; i <= 5; i += 1) await alice.client.next('ack');
    const back = await connect(url('1'));
    const reply = await back.request({ event: 'auth', user: 'bob', since: last.seq, epoch: last.epoch }, 'token');
    expect(reply).to.include({ recovered: true, seq: 6, epoch: last.epoch });
    const missed = [];
    for (let i = 0; i < 5; i += 1) missed.push(await back.next('message'));
    expect(missed.map((m) => m.message)).to.deep.equal(['missed 1', 'missed 2', 'missed 3', 'missed 4', 'missed 5']);
    expect(seqs(missed)).to.deep.equal([2, 3, 4, 5, 6]);
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'live' });
    expect(await back.next('message')).to.include({ message: 'live', seq: 7 });
  });

  it('takes since and epoch from the upgrade URL too', async () => {
    const { url } = await startServer();
    const alice = await join(url('1'), 'alice');
    alice.client.send({ event: 'broadcast', message: 'a', id: 1 });
    const first = await alice.client.next('message');
    await alice.client.next('ack');
    alice.client.send({ event: 'broadcast', message: 'b', id: 2 });
    await alice.client.next('message');
    await alice.client.next('ack');
    const bob = await connect(`${url('1')}&since=${first.seq as number}&epoch=${first.epoch as string}`);
    const reply = await bob.request({ event: 'auth', user: 'bob' }, 'token');
    expect(reply.recovered).to.equal(true);
    expect(await bob.next('message')).to.include({ message: 'b', seq: 2 });
  });

  it('replays only what was meant for the client: not others\' direct messages, not its own publish', async () => {
    const { url } = await startServer();
    const alice = await join(url('1'), 'alice');
    const bob = await join(url('1'), 'bob');
    await join(url('1'), 'carol');
    bob.client.terminate();
    await bob.client.closed;
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'to carol', with_cilents: ['carol'], id: 1 });
    await alice.client.next('ack');
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'to everyone', id: 2 });
    await alice.client.next('ack');
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'to bob', with_cilents: ['carol', 'bob'], id: 3 });
    const ack = await alice.client.next();
    expect(ack).to.include({ event: 'error', code: 'no_such_user', user: 'bob' });
    await alice.client.next('ack');
    const back = await connect(url('1'));
    const reply = await back.request({ event: 'auth', user: 'bob', since: 0, epoch: null }, 'token');
    expect(reply.recovered).to.equal(true);
    back.send({ event: 'user_list', auth: reply.message, id: 'end' });
    const got = await until(back, (e) => e.event === 'user_list', isMessage);
    expect(got.map((m) => m.message)).to.deep.equal(['to everyone']);
  });

  it('loses nothing and repeats nothing when messages keep arriving during the replay', async () => {
    const { url } = await startServer({ messageRate: 0 });
    const alice = await join(url('1'), 'alice');
    const bob = await join(url('1'), 'bob');
    const total = 400;
    let sent = 0;
    const send = (n: number): void => {
      for (let i = 0; i < n && sent < total; i += 1) {
        sent += 1;
        alice.client.send({ event: 'talk_with', auth: alice.token, message: sent, id: sent });
      }
    };
    send(50);
    const before = await until(bob.client, (e) => e.event === 'message' && e.message === 20, isMessage);
    bob.client.terminate();
    await bob.client.closed;
    const last = before[before.length - 1];
    const back = await connect(url('1'));
    back.send({ event: 'auth', user: 'bob', since: last.seq, epoch: last.epoch });
    send(total);
    const after = await until(back, (e) => e.event === 'message' && e.message === total, isMessage);
    const all = [...seqs(before), ...seqs(after)];
    expect(all).to.deep.equal(range(1, total));
  });

  it('says recovered: false, and replays nothing, when history no longer reaches back', async () => {
    const { url } = await startServer({ historySize: 3 });
    const alice = await join(url('1'), 'alice');
    for (let i = 1; i <= 6; i += 1) {
      alice.client.send({ event: 'broadcast', message: i, id: i });
      await alice.client.next('message');
      await alice.client.next('ack');
    }
    const back = await connect(url('1'));
    const reply = await back.request({ event: 'auth', user: 'bob', since: 1, epoch: null }, 'token');
    expect(reply).to.include({ recovered: false, seq: 6 });
    back.send({ event: 'user_list', auth: reply.message });
    expect((await back.next()).event).to.equal('user_list');
  });

  it('says recovered: false for another epoch, and for a since ahead of the channel', async () => {
    const { url } = await startServer();
    const alice = await join(url('1'), 'alice');
    alice.client.send({ event: 'broadcast', message: 'x' });
    const x = await alice.client.next('message');
    const stale = await connect(url('1'));
    expect(await stale.request({ event: 'auth', user: 'bob', since: 0, epoch: 'another' }, 'token')).to.include({ recovered: false });
    const ahead = await connect(url('1'));
    expect(await ahead.request({ event: 'auth', user: 'carol', since: 9, epoch: x.epoch }, 'token')).to.include({ recovered: false });
  });

  it('resumes in a channel that was reaped while the client was away', async () => {
    const { url, server } = await startServer();
    const alice = await join(url('1'), 'alice');
    alice.client.send({ event: 'broadcast', message: 'kept', id: 1 });
    const kept = await alice.client.next('message');
    await alice.client.next('ack');
    alice.client.terminate();
    await eventually(() => server.connections === 0, 'the server to see the close');
    await server.registry.reap();
    expect(server.registry.get('/channel', '1')).to.equal(undefined);
    const back = await connect(url('1'));
    const reply = await back.request({ event: 'auth', user: 'alice', since: 0, epoch: kept.epoch }, 'token');
    expect(reply).to.include({ recovered: true, seq: 1 });
    expect(await back.next('message')).to.include({ message: 'kept' });
  });

  it('delivers a message re-sent with the same id once, and acks the copy with duplicate: true', async () => {
    const { url } = await startServer();
    const alice = await join(url('1'), 'alice');
    const bob = await join(url('1'), 'bob');
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'once', id: 'm-1' });
    const ack = await alice.client.next('ack');
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'once', id: 'm-1' });
    expect(await alice.client.next('ack')).to.deep.equal({ event: 'ack', re: 'm-1', seq: ack.seq, duplicate: true });
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'next', id: 'm-2' });
    expect(await bob.client.next('message')).to.include({ message: 'once' });
    expect(await bob.client.next('message')).to.include({ message: 'next' });
  });

  it('does not take one user\'s id for another\'s', async () => {
    const { url } = await startServer();
    const alice = await join(url('1'), 'alice');
    const bob = await join(url('1'), 'bob');
    alice.client.send({ event: 'broadcast', message: 'from alice', id: 1 });
    await alice.client.next('message');
    expect(await alice.client.next('ack')).to.not.have.property('duplicate');
    await bob.client.next('message');
    bob.client.send({ event: 'broadcast', message: 'from bob', id: 1 });
    await bob.client.next('message');
    expect(await bob.client.next('ack')).to.not.have.property('duplicate');
  });

  it('refuses a since or epoch that cannot be one, in auth and on the URL', async () => {
    const { url, port } = await startServer();
    const client = await connect(url('1'));
    expect(await client.request({ event: 'auth', user: 'bob', since: -1 })).to.include({ event: 'error', code: 'bad_since' });
    expect(await client.request({ event: 'auth', user: 'bob', since: 1, epoch: 'a b' })).to.include({ event: 'error', code: 'bad_epoch' });
    expect(await client.request({ event: 'auth', user: 'bob' })).to.include({ event: 'token' });
    const since = await rawRequest(await openSocket(port), upgradeRequest('/channel?id=1&since=x'));
    expect(since.status).to.equal(400);
    expect(since.headers['x-rooms-error']).to.equal('bad_since');
    expect(since.body).to.include('since must be a whole number');
    const epoch = await rawRequest(await openSocket(port), upgradeRequest('/channel?id=1&since=1&epoch=%00'));
    expect(epoch.headers['x-rooms-error']).to.equal('bad_epoch');
    expect(epoch.status).to.equal(400);
  });
});
