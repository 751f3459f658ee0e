import { expect } from 'chai';
import WebSocket from 'ws';
import { onCleanup } from './support/cleanup.js';
import { eventually } from './support/eventually.js';
import { startServer } from './support/server.js';

interface SeedClient {
  log: string[];
  /** Resolves once the client has sent its talk_with, i.e. finished its script. */
  talked: Promise<void>;
  ws: WebSocket;
}

/**
 * Seed 004's C7 client, transcribed: faker's random name replaced by `self`, console.log by
 * `log`. Everything it sends and how it reacts is as in the seed.
 */
function seedClient(url: string, self: string): SeedClient {
  const log: string[] = [];
  const console = { log: (line: unknown) => log.push(typeof line === 'string' ? line : JSON.stringify(line)) };
  let talked!: () => void;
  const done = new Promise<void>((resolve) => (talked = resolve));
  const ws = new WebSocket(url);
  onCleanup(() => ws.terminate());
  let token: unknown = null;

  console.log(`I'm ${self}`);

  ws.on('open', () => {
    ws.send(JSON.stringify({ event: 'auth', message: 'auth', user: self }));
  });
  ws.on('message', (message) => {
    let data: Record<string, unknown> | null = null;
    try {
      data = JSON.parse((message as Buffer).toString()) as Record<string, unknown>;
    } catch {
      ws.send(JSON.stringify({ event: 'error', message: 'message is not json' }));
      return;
    }
    if (!data || !data.event) {
      ws.send(JSON.stringify({ event: 'error', message: 'no event' }));
      return;
    }
    switch (data.event) {
      case 'close':
        ws.close();
        break;
      case 'user_list': {
        const users = data.message as string[];
        if (users.length > 2) {
          console.log('get user list:');
          console.log(users);
          const chosen = users[Math.random() >= 0.5 ? 1 : 2];
          console.log(`chosen ${chosen}`);
          ws.send(JSON.stringify({ event: 'talk_with', auth: token, with_cilents: [chosen], message: `hello ${chosen},I'm ${self}` }));
          console.log(`send message to ${chosen}`);
        } else {
          ws.send(JSON.stringify({ event: 'talk_with', auth: token, message: `hello all,I'm ${self}` }));
        }
        talked();
        break;
      }
      case 'message':
        console.log(`get message: ${String(data.message)}`);
        break;
      case 'error':
        console.log(`error:${String(data.message)}`);
        break;
      case 'token':
        token = data.message;
        ws.send(JSON.stringify({ event: 'user_list', auth: token }));
        break;
      default:
        ws.send(JSON.stringify({ event: 'error', message: 'unkonwn command' }));
    }
  });
  ws.on('close', () => {
    console.log('disconnected');
  });
  return { log, talked: done, ws };
}

describe("seed 004's C7 client, unchanged", () => {
  it('three clients each get a token, the user list and the messages meant for them, and print no error', async () => {
    const { url } = await startServer();
    const clients: SeedClient[] = [];
    for (const name of ['Smith', 'Jones', 'Brown']) {
      const client = seedClient(url('1'), name);
      clients.push(client);
      await client.talked;
    }
    const [smith, jones, brown] = clients as [SeedClient, SeedClient, SeedClient];
    const chosenLine = brown.log.find((line) => line.startsWith('chosen '))!;
    const chosen = chosenLine.slice('chosen '.length);
    expect(['Jones', 'Brown']).to.include(chosen);
    const receiver = chosen === 'Jones' ? jones : brown;
    const printed = 'the seed client to print the expected line';
    await eventually(() => receiver.log.includes(`get message: hello ${chosen},I'm Brown`), printed);
    await eventually(() => smith.log.includes("get message: hello all,I'm Jones"), printed);

    expect(brown.log).to.deep.include('["Smith","Jones","Brown"]');
    expect(smith.log.filter((l) => l.startsWith('get message'))).to.deep.equal(["get message: hello all,I'm Jones"]);
    for (const client of clients) expect(client.log.filter((l) => l.startsWith('error:'))).to.deep.equal([]);

    for (const client of clients) client.ws.close();
    await Promise.all(clients.map((c) => new Promise((resolve) => (c.ws.readyState === WebSocket.CLOSED ? resolve(null) : c.ws.on('close', resolve)))));
    for (const client of clients) expect(client.log.at(-1)).to.equal('disconnected');
  });
});
