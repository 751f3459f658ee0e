import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { onCleanup } from './cleanup.js';

/** Debian's chromium; .ci/run installs it. */
export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const INSTALL = '/usr/bin/chromium is missing; install it with: apt-get update && apt-get install -y chromium (CI sets ROOMS_REQUIRE_BROWSER=1 and installs it)';

/**
 * Skips the calling suite when Debian's chromium is missing, saying how to install it; fails
 * instead under ROOMS_REQUIRE_BROWSER=1, so CI can never skip the browser tests.
 */
export function needChromium(ctx: Mocha.Context): void {
  if (existsSync(CHROMIUM)) return;
  if (process.env.ROOMS_REQUIRE_BROWSER === '1') throw new Error(INSTALL);
  console.log(`      skipped: ${INSTALL}`);
  ctx.skip();
}

/** Launches Debian's chromium headless, with launch's default temporary profile. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** A page in its own context (its own storage), closed after the test, failing the test on page errors. */
export async function openPage(browser: Browser, url: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  onCleanup(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  onCleanup(() => {
    if (errors.length > 0) throw new Error(`the page threw: ${errors.join('; ')}`);
  });
  await page.goto(url);
  return page;
}

/**
 * One Chromium for the calling suite: launched before its tests (or the suite skipped, see
 * needChromium), closed after them. Returns a getter for the browser.
 */
export function useChromium(): () => Browser {
  let browser: Browser | undefined;
  before(async function () {
    needChromium(this);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });
  return () => browser!;
}
