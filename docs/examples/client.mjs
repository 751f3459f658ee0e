// Joins a channel with the client library, says hello, lists the members and leaves.
// Run (with the server started by `npm start`): node docs/examples/client.mjs 'ws://127.0.0.1:3000/channel?id=1' alice
import { RoomsClient } from 'rooms-server/client';

const [url = 'ws://127.0.0.1:3000/channel?id=1', user = 'alice'] = process.argv.slice(2);
const client = new RoomsClient(url, { user });

client.on('message', (m) => console.log(`${m.from}: ${m.message}`));
client.on('join', (name) => console.log(`${name} joined`));
client.on('state', (s) => console.error(`state: ${s.state}`));
client.on('recovered', ({ recovered }) => {
  if (!recovered) console.error('messages may have been lost while reconnecting: reload what you show');
});

await client.connect();
const ack = await client.broadcast('hello from the library');
console.log(`sent as seq ${ack.seq}`);
console.log(`members: ${(await client.users()).join(', ')}`);
await client.close();
