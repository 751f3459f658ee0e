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
      expect(await log(alice)).to.deep.equal(['alice → bob: just for you', 'alice: for everyone']);
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
      server.registry.get('/channel', '1')!.members.get('alice')!.ws.terminate();
      await page.getByRole('status').filter({ hasText: /^Reconnecting in \d+ s$/ }).waitFor();
      for (const text of ['during 1', 'during 2', 'during 3']) await bob.client.publish(text);
      await live(page);
      await page.locator('#messages li .text', { hasText: 'during 3' }).waitFor();
      expect(await log(page)).to.deep.equal(['bob: before', 'bob: during 1', 'bob: during 2', 'bob: during 3']);
      expect(await page.locator('#messages li.system').allInnerTexts()).to.not.include('Reconnected. Messages sent while you were away may be missing.');
    });
  });
});
