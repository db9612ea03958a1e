import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startE2eHost, type E2eHost } from './support/host.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts');
const INSTALL_HINT =
  'install it with `apt-get install -y chromium` (Debian/Ubuntu; README "Test prerequisites"), or set CHROMIUM_PATH to a Chromium or Chrome executable';

/** A missing browser fails with what to do about it, not with Playwright's bare "executable doesn't exist". */
async function launchChromium(args: string[]): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: ${INSTALL_HINT}`);
  try {
    return await chromium.launch({ executablePath: CHROMIUM, args });
  } catch (error) {
    throw new Error(`Chromium at ${CHROMIUM} did not start (${(error as Error).message}): ${INSTALL_HINT}`, {
      cause: error,
    });
  }
}

/** Swagger UI over the local host, in Debian's headless Chromium: what a client developer sees. */
describe('API docs in a real browser', () => {
  let host: E2eHost;
  let browser: Browser;

  beforeAll(async () => {
    // The browser first: without it there is no point starting a host.
    browser = await launchChromium([
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ]);
    host = await startE2eHost();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
  });

  it('renders every tag and runs "Try it out" on GET /health', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
    const offLoopback: string[] = [];
    await page.route('**/*', async (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === '127.0.0.1' || hostname === 'localhost' || route.request().url().startsWith('data:')) {
        await route.continue();
      } else {
        offLoopback.push(route.request().url());
        await route.abort();
      }
    });
    const document = (await (await fetch(`${host.baseUrl}/openapi.json`)).json()) as {
      tags: { name: string }[];
      paths: Record<string, Record<string, { tags?: string[] }>>;
    };
    const usedTags = new Set(
      Object.values(document.paths).flatMap((item) => Object.values(item).flatMap((op) => op.tags ?? [])),
    );

    await page.goto(`${host.baseUrl}/docs`, { waitUntil: 'networkidle' });
    await page.waitForSelector('.swagger-ui .information-container .title', { timeout: 30_000 });
    for (const tag of usedTags) {
      await expect(
        page.locator(`.opblock-tag-section h3[data-tag="${tag}"]`).count(),
        `tag ${tag}`,
      ).resolves.toBe(1);
    }

    const healthOp = page.locator('#operations-operations-health');
    await healthOp.locator('.opblock-summary').click();
    await healthOp.locator('button.try-out__btn').click();
    await healthOp.locator('button.execute').click();
    const status = healthOp.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor({ timeout: 15_000 });
    expect((await status.innerText()).trim()).toBe('200');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'docs.png'), fullPage: false });
    expect(offLoopback).toEqual([]);
    await page.close();
  }, 90_000);
});
