import { createServer } from 'node:net';
import { expect } from 'chai';
import { spawnRooms, waitForOutput } from './support/cli.js';
import { roomsClient } from './support/rooms-client.js';
import { startServer } from './support/server.js';
import { parseLine, unreachable } from '../src/terminal.js';

/** Runs `rooms connect` with these lines piped in, to its end. */
function script(url: string, user: string, input: string): ReturnType<typeof spawnRooms>['done'] {
  const run = spawnRooms(['connect', url, '--user', user], {}, 'pipe');
  run.child.stdin!.end(input);
  return run.done;
}

/** A port nothing listens on: one the system just gave out and took back. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('rooms connect (terminal client)', () => {
  it('with piped input, sends each line, waits for its reply, and exits 0', async () => {
    const { url } = await startServer();
    const bob = roomsClient(url('1'), { user: 'bob' });
    const carol = roomsClient(url('1'), { user: 'carol' });
    await bob.client.connect();
    await carol.client.connect();
    const { code, stdout, stderr } = await script(url('1'), 'alice', 'hello everyone\n\n/msg bob just you\n/who\n');
    expect(stderr).to.equal('');
    expect(code).to.equal(0);
    expect(stdout).to.equal('bob, carol, alice\n');
    expect((await bob.received(2)).map((m) => [m.from, m.message])).to.deep.equal([['alice', 'hello everyone'], ['alice', 'just you']]);
    expect((await carol.received(1)).map((m) => m.message)).to.deep.equal(['hello everyone']);
    expect(carol.messages).to.have.length(1);
  });

  it('stops at the first failed request: the error on stderr, exit 1', async () => {
    const { url } = await startServer();
    const { code, stdout, stderr } = await script(url('1'), 'alice', '/msg ghost hi\nnever sent\n');
    expect(code).to.equal(1);
    expect(stdout).to.equal('');
    expect(stderr).to.equal('rooms: no_such_user: user alice send to ghost error\n');
  });

  it('a taken name exits 1 saying so, without retrying', async () => {
    const { url, port } = await startServer();
    const alice = roomsClient(url('1'), { user: 'alice' });
    await alice.client.connect();
    const { code, stderr } = await script(url('1'), 'alice', 'hi\n');
    expect(code).to.equal(1);
    expect(stderr).to.include(`rooms: cannot connect to ws://127.0.0.1:${port}/channel: auth error,user name already exist\n`);
  });

  it('a refused connection shows the server\'s reason and exits 1', async () => {
    const { port } = await startServer();
    const { code, stdout, stderr } = await script(`ws://127.0.0.1:${port}/nowhere?id=1`, 'alice', 'hi\n');
    expect(code).to.equal(1);
    expect(stdout).to.equal('');
    expect(stderr).to.equal(`rooms: cannot connect to ws://127.0.0.1:${port}/nowhere: the server refused it with HTTP 404: unknown path /nowhere; channels live under /channel?id=<id>\n`);
  });

  it('a port nothing listens on fails at once, saying so, and exits 1', async function () {
    // Well under the 10 s a script waits for a server that may come: the child must not wait at all.
    this.timeout(5000);
    const port = await freePort();
    const { code, stdout, stderr } = await script(`ws://127.0.0.1:${port}/channel?id=1`, 'alice', 'hi\n');
    expect(code).to.equal(1);
    expect(stdout).to.equal('');
    expect(stderr).to.equal(`rooms: cannot connect to ws://127.0.0.1:${port}/channel: nothing is listening on 127.0.0.1:${port} (ECONNREFUSED); start the server or check the port\n`);
  });

  it('never prints the credentials a URL carries', async () => {
    const { port } = await startServer();
    const { code, stderr } = await script(`ws://alice:hunter2@127.0.0.1:${port}/nowhere?id=1&token=hunter3`, 'alice', 'hi\n');
    expect(code).to.equal(1);
    expect(stderr).to.include(`cannot connect to ws://127.0.0.1:${port}/nowhere:`);
    expect(stderr).not.to.include('hunter');
  });

  it('a URL that is not ws:// exits 2 before connecting', async () => {
    const { code, stderr } = await script('http://127.0.0.1:1/channel?id=1', 'alice', '');
    expect(code).to.equal(2);
    expect(stderr).to.equal('rooms: the URL must start with ws:// or wss:// (got "http://127.0.0.1:1/channel?id=1")\n');
  });

  it('shows incoming lines with time and sender, and resumes across a reconnection without losing any', async () => {
    const { url, server } = await startServer();
    const bob = roomsClient(url('1'), { user: 'bob' });
    await bob.client.connect();
    const joined = new Promise<string>((resolve) => bob.client.on('join', resolve));
    const run = spawnRooms(['connect', url('1'), '--user', 'alice'], {}, 'pipe');
    expect(await joined).to.equal('alice');
    await bob.client.publish('hi alice');
    await waitForOutput(run.child, run.stdout, /^\[\d\d:\d\d:\d\d\] bob: hi alice\n/m);
    const rejoined = new Promise<string>((resolve) => bob.client.on('join', resolve));
    server.registry.get('/channel', '1')!.members.get('alice')!.link.terminate();
    // Sent while alice is out of the channel: only her resume brings it to her.
    await bob.client.publish('while you were away');
    expect(await rejoined).to.equal('alice');
    await waitForOutput(run.child, run.stdout, /^\[\d\d:\d\d:\d\d\] bob: while you were away\n/m);
    run.child.stdin!.end('after the drop\n');
    expect((await run.done).code).to.equal(0);
    expect((await bob.received(1))[0]).to.include({ from: 'alice', message: 'after the drop' });
  });

  it('tells a server that is not there from a failure that may pass', () => {
    expect(unreachable('getaddrinfo ENOTFOUND chat.example', 'wss://chat.example/channel?id=1')).to.equal('no such host chat.example (ENOTFOUND); check the URL');
    expect(unreachable('connect ECONNREFUSED ::1:3000; connect ECONNREFUSED 127.0.0.1:3000', 'ws://localhost:3000/channel?id=1')).to.equal(
      'nothing is listening on localhost:3000 (ECONNREFUSED); start the server or check the port',
    );
    expect(unreachable('HTTP 503: shutting down', 'ws://localhost:3000/channel?id=1')).to.equal(null);
  });

  it('reads commands: /msg NAME TEXT, /who, /quit, and says what it does not know', () => {
    expect(parseLine('/msg bob hi there')).to.deep.equal({ kind: 'msg', to: 'bob', text: 'hi there' });
    expect(parseLine('/msg bob')).to.deep.equal({ kind: 'bad', error: 'usage: /msg NAME TEXT' });
    expect(parseLine('/who')).to.deep.equal({ kind: 'who' });
    expect(parseLine('/quit')).to.deep.equal({ kind: 'quit' });
    expect(parseLine('   ')).to.equal(null);
    expect(parseLine('/dance')).to.have.property('kind', 'bad');
  });
});
