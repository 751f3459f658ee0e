import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { join } from './support/client.js';
import { useChromium } from './support/browser.js';
import { onCleanup } from './support/cleanup.js';
import { startServer, type Started } from './support/server.js';

const KEY = 'admin-key-0123456789';

describe('admin page, in Chromium', function () {
  // Launching a browser on a busy 2-core machine takes seconds.
  this.timeout(60_000);
  const browser = useChromium();

  async function open(s: Started): Promise<Page> {
    const context = await browser().newContext();
    onCleanup(() => context.close());
    const page = await context.newPage();
    await page.goto(s.http('/admin'));
    return page;
  }

  async function signIn(page: Page, key = KEY): Promise<void> {
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Open' }).click();
  }

  it('asks for the key once, then shows a channel as soon as a client joins it, with its members', async () => {
    const s = await startServer({ apiKeys: [{ name: 'ops', key: KEY }] });
    const page = await open(s);
    await signIn(page);
    await page.getByText('No channels yet').waitFor();
    await join(s.url('lobby'), 'alice');
    const channel = page.getByRole('button', { name: 'Channel lobby on /channel: show its members' });
    await channel.click();
    await page.getByRole('heading', { name: 'Members of channel lobby on /channel' }).waitFor();
    await page.getByRole('listitem').filter({ hasText: 'alice' }).waitFor();
    await join(s.url('lobby'), 'bob');
    await page.getByRole('listitem').filter({ hasText: 'bob' }).waitFor();
    const row = page.getByRole('row').filter({ has: channel });
    await row.getByRole('cell').nth(2).filter({ hasText: /^2$/ }).waitFor();
    expect(await channel.getAttribute('aria-pressed')).to.equal('true');
    await page.reload();
    await page.getByRole('button', { name: 'Forget key' }).waitFor();
    expect(await page.getByLabel('API key').isVisible()).to.equal(false);
  });

  it('works from the keyboard, and keeps focus on a channel across refreshes', async () => {
    const s = await startServer({ apiKeys: [{ name: 'ops', key: KEY }] });
    await join(s.url('1'), 'alice');
    const page = await open(s);
    await page.getByLabel('API key').focus();
    await page.keyboard.type(KEY);
    await page.keyboard.press('Enter');
    const channel = page.getByRole('button', { name: 'Channel 1 on /channel: show its members' });
    await channel.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('listitem').filter({ hasText: 'alice' }).waitFor();
    const updated = await page.locator('#updated').textContent();
    await page.locator('#updated').filter({ hasNotText: updated! }).waitFor();
    expect(await page.locator(':focus').getAttribute('aria-label')).to.equal('Channel 1 on /channel: show its members');
  });

  it('shows the message rate of a busy channel', async () => {
    const s = await startServer({ apiKeys: [{ name: 'ops', key: KEY }], messageRate: 0 });
    const alice = await join(s.url('1'), 'alice');
    const page = await open(s);
    await signIn(page);
    const rate = page.getByRole('row').filter({ hasText: '/channel' }).getByRole('cell').nth(4);
    await rate.waitFor();
    let stop = false;
    const talk = (async () => {
      while (!stop) {
        alice.client.send({ event: 'broadcast', message: 'hi' });
        await alice.client.next('message');
      }
    })();
    // Messages/s shows one decimal: wait for a rate of at least 1.0.
    await rate.filter({ hasText: /^[1-9]\d*\.\d$/ }).waitFor();
    stop = true;
    await talk;
  });

  it('refuses a wrong key and asks again', async () => {
    const s = await startServer({ apiKeys: [{ name: 'ops', key: KEY }] });
    const page = await open(s);
    await signIn(page, 'not-the-key-0123456789');
    await page.getByText('The server refused that key').waitFor();
    expect(await page.getByLabel('API key').isVisible()).to.equal(true);
  });

  it('says the API is off, and how to turn it on, when no apiKeys are configured', async () => {
    const s = await startServer();
    const page = await open(s);
    await page.getByRole('heading', { name: 'The API is off' }).waitFor();
    const message = await page.getByRole('alert').filter({ hasText: 'ROOMS_API_KEYS' }).textContent();
    expect(message).to.equal('the API is off: no apiKeys are configured; set apiKeys in a config file or ROOMS_API_KEYS (see docs/api.md)');
    expect(await page.getByLabel('API key').isVisible()).to.equal(false);
    expect(await page.getByText('The server refused that key').count()).to.equal(0);
  });
});
