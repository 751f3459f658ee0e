/**
 * Takes docs/chat-desktop.png and docs/chat-phone.png: two members chat in a real server, and the
 * page of one of them is shot at desktop and at phone width. Run with `npm run screenshot:chat` after
 * `npm run build`.
 */
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { createRoomServer } from '../src/index.js';
import { RoomsClient } from '../src/client/index.js';

const DOCS = new URL('../docs/', import.meta.url);
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const server = createRoomServer({ port: 0, host: '127.0.0.1', logLevel: 'silent' });
const { port } = await server.listen();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
const bob = new RoomsClient(`ws://127.0.0.1:${port}/channel?id=team`, { user: 'bob' });
const carol = new RoomsClient(`ws://127.0.0.1:${port}/channel?id=team`, { user: 'carol' });
try {
  await bob.connect();
  await carol.connect();
  for (const [name, viewport] of [
    ['desktop', { width: 1280, height: 720 }],
    ['phone', { width: 390, height: 780 }],
  ] as const) {
    const context = await browser.newContext({ viewport, deviceScaleFactor: name === 'phone' ? 2 : 1 });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/?channel=team&user=alice`);
    await page.getByRole('status').filter({ hasText: /^Live$/ }).waitFor();
    await bob.publish('Morning! Is the deploy still on for 3 pm?');
    await say(page, 'Yes, 3 pm. I will post the checklist here.');
    await carol.publish('I can take the database migration.\nShould be 10 minutes.');
    await page.getByLabel('To', { exact: true }).selectOption('carol');
    await say(page, 'Thanks Carol, ping me when it is done.');
    await page.getByLabel('Message', { exact: true }).fill('Checklist: tag, migrate, roll out');
    await page.locator('#messages li:not(.system)').nth(3).waitFor();
    await page.screenshot({ path: fileURLToPath(new URL(`chat-${name}.png`, DOCS)) });
    await context.close();
  }
} finally {
  await bob.close();
  await carol.close();
  await browser.close();
  await server.close();
}

async function say(page: Page, text: string): Promise<void> {
  const sent = page.locator('#messages li.mine time:not(:text("sending…"))');
  const before = await sent.count();
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
  await sent.nth(before).waitFor();
}
