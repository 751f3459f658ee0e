import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { openPage, useChromium } from './support/browser.js';
import { roomsClient } from './support/rooms-client.js';
import { startServer } from './support/server.js';

/** The text of every message in the log, as "from: text". */
async function log(page: Page): Promise<string[]> {
  const items = page.locator('#messages li:not(.system)');
  const out: string[] = [];
  for (const item of await items.all()) out.push(`${await item.locator('.from').innerText()}: ${await item.locator('.text').innerText()}`);
  return out;
}

async function live(page: Page): Promise<void> {
  await page.getByRole('status').filter({ hasText: /^Live$/ }).waitFor();
}

describe('chat page (GET /)', () => {
  describe('over HTTP', () => {
    it('serves the page, pointing it at the first channel path', async () => {
      const { http } = await startServer({ paths: ['/room', '/channel'] });
      const res = await fetch(http('/?channel=1&user=alice'));
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).to.include("default-src 'self'");
      const html = await res.text();
      expect(html).to.include('<body data-path="/room">');
      expect(html).to.include('<script type="module" src="/chat/chat.js"></script>');
    });

    it('serves its script and style, and nothing else from disk', async () => {
      const { http } = await startServer();
      const script = await fetch(http('/chat/chat.js'));
      expect(script.headers.get('content-type')).to.equal('text/javascript; charset=utf-8');
      expect(await script.text()).to.include('Reconnecting in');
      expect((await fetch(http('/chat/chat.css'))).status).to.equal(200);
      expect((await fetch(http('/chat/../package.json'))).status).to.equal(404);
      expect((await fetch(http('/chat/chat.ts'))).status).to.equal(404);
    });

    it('answers other methods with 405', async () => {
      const { http } = await startServer();
      const res = await fetch(http('/'), { method: 'POST' });
      expect(res.status).to.equal(405);
      expect(res.headers.get('allow')).to.equal('GET, HEAD');
    });
  });

  describe('in Chromium', function () {
    // A real browser on a shared 2-core machine: page loads alone can take seconds.
    this.timeout(60_000);
    const browser = useChromium();

    it('two pages chat: Enter sends, Shift+Enter breaks the line, members and state are shown', async () => {
      const { http } = await startServer();
      const alice = await openPage(browser(), http('/?channel=1&user=alice'));
      await live(alice);
      const bob = await openPage(browser(), http('/?channel=1&user=bob'));
      await live(bob);
      await alice.locator('#members li', { hasText: 'bob' }).waitFor();
      expect(await alice.locator('#members li').allInnerTexts()).to.deep.equal(['alice', 'bob']);
      expect(await alice.locator('#where').innerText()).to.equal('#1 as alice');
      await alice.getByLabel('Message', { exact: true }).fill('hello bob');
      await alice.getByLabel('Message', { exact: true }).press('Enter');
      await bob.locator('#messages li .text', { hasText: 'hello bob' }).waitFor();
      await bob.getByLabel('Message', { exact: true }).pressSequentially('line one');
      await bob.getByLabel('Message', { exact: true }).press('Shift+Enter');
      await bob.getByLabel('Message', { exact: true }).pressSequentially('line two');
      await bob.getByLabel('Message', { exact: true }).press('Enter');
      await alice.locator('#messages li .text', { hasText: 'line two' }).waitFor();
      expect(await log(alice)).to.deep.equal(['alice: hello bob', 'bob: line one\nline two']);
      expect(await bob.getByLabel('Message', { exact: true }).inputValue()).to.equal('');
      expect(await bob.locator('#messages li:not(.system) time').first().getAttribute('datetime')).to.match(/^\d{4}-\d\d-\d\dT/);
    });

    it('one page writes to one member only', async () => {
      const { http, url } = await startServer();
      const alice = await openPage(browser(), http('/?channel=1&user=alice'));
      await live(alice);
      const bob = await openPage(browser(), http('/?channel=1&user=bob'));
      await live(bob);
      const carol = roomsClient(url('1'), { user: 'carol' });
      await carol.client.connect();
      await alice.locator('#to option', { hasText: 'carol' }).waitFor({ state: 'attached' });
      await alice.getByLabel('To', { exact: true }).selectOption('bob');
      await alice.getByLabel('Message', { exact: true }).fill('just for you');
      await alice.getByRole('button', { name: 'Send' }).click();
      await bob.locator('#messages li .text', { hasText: 'just for you' }).waitFor();
      await alice.getByLabel('To', { exact: true }).selectOption('');
      await alice.getByLabel('Message', { exact: true }).fill('for everyone');
      await alice.getByLabel('Message', { exact: true }).press('Enter');
      expect((await carol.received(1)).map((m) => m.message)).to.deep.equal(['for everyone']);
      expect(await log(alice)).to.deep.equal(['alice: just for you', 'alice: for everyone']);
    });

    it('marks a direct message as private on both sides, naming whom it is for', async () => {
      const { http, url } = await startServer();
      const alice = await openPage(browser(), http('/?channel=1&user=alice'));
      await live(alice);
      const bob = await openPage(browser(), http('/?channel=1&user=bob'));
      await live(bob);
      await alice.locator('#to option', { hasText: 'bob' }).waitFor({ state: 'attached' });
      await alice.getByLabel('To', { exact: true }).selectOption('bob');
      await alice.getByLabel('Message', { exact: true }).fill('just for you');
      await alice.getByLabel('Message', { exact: true }).press('Enter');
      const received = bob.locator('#messages li.private', { hasText: 'just for you' });
      await received.waitFor();
      expect(await received.locator('.private-to').innerText()).to.equal('private to you');
      const sent = alice.locator('#messages li.mine.private', { hasText: 'just for you' });
      expect(await sent.locator('.private-to').innerText()).to.equal('private to bob');
      const carol = roomsClient(url('1'), { user: 'carol' });
      await carol.client.connect();
      await carol.client.to(['alice', 'bob'], 'to you two');
      expect(await alice.locator('#messages li.private', { hasText: 'to you two' }).locator('.private-to').innerText()).to.equal('private to you, bob');
      await alice.getByLabel('To', { exact: true }).selectOption('');
      await alice.getByLabel('Message', { exact: true }).fill('for everyone');
      await alice.getByLabel('Message', { exact: true }).press('Enter');
      await bob.locator('#messages li', { hasText: 'for everyone' }).waitFor();
      expect(await bob.locator('#messages li.private .text').allInnerTexts()).to.deep.equal(['just for you', 'to you two']);
    });

    it('keeps a recipient who left chosen, marked "(left)", sends nothing to anyone, and sends once they are back', async () => {
      const { http, url } = await startServer();
      const bob = roomsClient(url('1'), { user: 'bob' });
      await bob.client.connect();
      const carol = roomsClient(url('1'), { user: 'carol' });
      await carol.client.connect();
      const alice = await openPage(browser(), http('/?channel=1&user=alice'));
      await live(alice);
      const to = alice.getByLabel('To', { exact: true });
      const text = alice.getByLabel('Message', { exact: true });
      await alice.locator('#to option', { hasText: 'carol' }).waitFor({ state: 'attached' });
      await to.selectOption('bob');
      await bob.client.close();
      await alice.locator('#to option:checked', { hasText: 'bob (left)' }).waitFor({ state: 'attached' });
      await text.fill('are you there?');
      await text.press('Enter');
      await alice.locator('#notices li', { hasText: 'bob left the channel; your message was not sent.' }).waitFor();
      expect(await text.inputValue()).to.equal('are you there?');
      expect(await log(alice)).to.deep.equal([]);
      const back = roomsClient(url('1'), { user: 'bob' });
      await back.client.connect();
      await alice.locator('#to option:checked', { hasText: /^bob$/ }).waitFor({ state: 'attached' });
      await text.press('Enter');
      expect((await back.received(1)).map((m) => m.message)).to.deep.equal(['are you there?']);
      await to.selectOption('');
      await text.fill('hello all');
      await text.press('Enter');
      expect((await carol.received(1)).map((m) => m.message)).to.deep.equal(['hello all']);
    });

    it('says what is wrong with a channel id or a name in the address, without connecting', async () => {
      const { http } = await startServer();
      const page = await openPage(browser(), http('/'));
      const sockets: string[] = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      await page.goto(http('/?channel=a/b&user=alice'));
      await page.getByRole('alert').filter({ hasText: '“a/b” cannot be a channel id: use 1 to 64 letters, digits, or . _ ~ -' }).waitFor();
      expect(await page.getByLabel('Channel', { exact: true }).inputValue()).to.equal('a/b');
      expect(await page.getByRole('status').innerText()).to.equal('Not connected');
      await page.goto(http(`/?channel=1&user=${encodeURIComponent('\u202Eecila')}`));
      await page.getByRole('alert').filter({ hasText: 'That name cannot be used: pick 1 to 32 characters, without control characters.' }).waitFor();
      expect(sockets).to.deep.equal([]);
    });

    it('stops retrying a connection the server refuses, and says that it refused', async () => {
      const { http } = await startServer({ allowedOrigins: ['https://chat.example.com'] });
      const page = await openPage(browser(), http('/?channel=1&user=alice'));
      await page.getByRole('alert').filter({ hasText: 'The server refused the connection' }).waitFor();
      expect(await page.getByRole('status').innerText()).to.equal('Offline');
      expect(await page.getByRole('button', { name: 'Join' }).isVisible()).to.equal(true);
    });

    it('shows a new member the last messages, marked as earlier, before live ones', async () => {
      const { http, url } = await startServer();
      const bob = roomsClient(url('1'), { user: 'bob' });
      await bob.client.connect();
      for (const text of ['one', 'two', 'three']) await bob.client.publish(text);
      const page = await openPage(browser(), http('/?channel=1&user=alice'));
      await live(page);
      await page.locator('#messages li.earlier', { hasText: 'three' }).waitFor();
      await page.locator('#members li', { hasText: 'bob' }).waitFor();
      await bob.client.publish('now');
      await page.locator('#messages li .text', { hasText: 'now' }).waitFor();
      expect(await page.locator('#messages li').first().innerText()).to.equal('Earlier messages');
      expect(await page.locator('#messages li.earlier .text').allInnerTexts()).to.deep.equal(['one', 'two', 'three']);
      expect(await log(page)).to.deep.equal(['bob: one', 'bob: two', 'bob: three', 'bob: now']);
    });

    it('shows as many earlier messages as the history setting says: 1 from the address, none with 0 from the form', async () => {
      const { http, url } = await startServer();
      const bob = roomsClient(url('1'), { user: 'bob' });
      await bob.client.connect();
      for (const text of ['one', 'two']) await bob.client.publish(text);
      const one = await openPage(browser(), http('/?channel=1&user=alice&history=1'));
      await one.locator('#messages li.earlier', { hasText: 'two' }).waitFor();
      await one.locator('#members li', { hasText: 'bob' }).waitFor();
      expect(await log(one)).to.deep.equal(['bob: two']);
      const none = await openPage(browser(), http('/'));
      await none.getByLabel('Channel', { exact: true }).fill('1');
      await none.getByLabel('Your name', { exact: true }).fill('carol');
      await none.getByLabel('Earlier messages to show', { exact: true }).fill('0');
      await none.getByRole('button', { name: 'Join' }).click();
      await live(none);
      expect(new URL(none.url()).search).to.equal('?channel=1&user=carol&history=0');
      await bob.client.publish('now');
      await none.locator('#messages li .text', { hasText: 'now' }).waitFor();
      expect(await log(none)).to.deep.equal(['bob: now']);
      expect(await none.locator('#messages li.system', { hasText: 'Earlier messages' }).count()).to.equal(0);
    });

    it('joins from the form, and a taken name comes back as a readable notice', async () => {
      const { http, url } = await startServer();
      const taken = roomsClient(url('lobby'), { user: 'alice' });
      await taken.client.connect();
      const page = await openPage(browser(), http('/'));
      await page.getByLabel('Channel', { exact: true }).fill('lobby');
      await page.getByLabel('Your name', { exact: true }).fill('alice');
      await page.getByRole('button', { name: 'Join' }).click();
      await page.getByRole('alert').filter({ hasText: 'The name “alice” is taken in this channel. Pick another.' }).waitFor();
      expect(await page.getByRole('status').innerText()).to.equal('Offline');
      await page.getByLabel('Your name', { exact: true }).fill('alice2');
      await page.getByLabel('Your name', { exact: true }).press('Enter');
      await live(page);
      expect(new URL(page.url()).search).to.equal('?channel=lobby&user=alice2');
    });

    it('shows "Reconnecting in N s" when its socket is killed mid-chat, then catches up with every message sent meanwhile', async () => {
      const { http, url, server } = await startServer();
      const bob = roomsClient(url('1'), { user: 'bob' });
      await bob.client.connect();
      const page = await openPage(browser(), http('/?channel=1&user=alice'));
      await live(page);
      await bob.client.publish('before');
      await page.locator('#messages li .text', { hasText: 'before' }).waitFor();
      server.registry.get('/channel', '1')!.members.get('alice')!.link.terminate();
      await page.getByRole('status').filter({ hasText: /^Reconnecting in \d+ s$/ }).waitFor();
      for (const text of ['during 1', 'during 2', 'during 3']) await bob.client.publish(text);
      await live(page);
      await page.locator('#messages li .text', { hasText: 'during 3' }).waitFor();
      expect(await log(page)).to.deep.equal(['bob: before', 'bob: during 1', 'bob: during 2', 'bob: during 3']);
      expect(await page.locator('#messages li.system').allInnerTexts()).to.not.include('Reconnected. Messages sent while you were away may be missing.');
    });
  });
});
