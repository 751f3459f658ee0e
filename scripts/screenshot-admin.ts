// Takes docs/admin.png: a server with a few busy channels, the admin page open on one of them.
// Run with `npm run screenshot:admin` after `npm run build`.
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createRoomServer } from '../src/index.js';
import { launchChromium } from '../test/support/browser.js';

const KEY = 'screenshot-key-0123456789';
const OUT = fileURLToPath(new URL('../docs/admin.png', import.meta.url));

const server = createRoomServer({ port: 0, logLevel: 'silent', messageRate: 0, apiKeys: [{ name: 'ops', key: KEY }], paths: ['/channel', '/support'] });
const { port } = await server.listen();

/** Opens a member that broadcasts `perSecond` messages a second. */
async function member(path: string, id: string, user: string, perSecond: number): Promise<NodeJS.Timeout | null> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}?id=${id}`);
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ event: 'auth', user }));
  return perSecond === 0 ? null : setInterval(() => ws.send(JSON.stringify({ event: 'broadcast', message: 'hello' })), 1000 / perSecond);
}

const timers = await Promise.all([
  member('/channel', 'lobby', 'alice', 8),
  member('/channel', 'lobby', 'bob', 4),
  member('/channel', 'lobby', 'carol', 0),
  member('/channel', 'release-42', 'dave', 2),
  member('/support', 'ticket-1017', 'erin', 1),
  member('/support', 'ticket-1017', 'agent-frank', 1),
]);
const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 960, height: 560 } });
await page.goto(`http://127.0.0.1:${port}/admin`);
await page.getByLabel('API key').fill(KEY);
await page.getByRole('button', { name: 'Open' }).click();
await page.getByRole('button', { name: 'Channel lobby on /channel: show its members' }).click();
await page.getByRole('listitem').filter({ hasText: 'carol' }).waitFor();
// Two polls, so every rate is measured.
await page.waitForTimeout(2_500);
await page.screenshot({ path: OUT });
await browser.close();
for (const timer of timers) if (timer !== null) clearInterval(timer);
await server.close();
console.log(`wrote ${OUT}`);
