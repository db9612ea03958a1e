import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, with everything that could talk to the outside switched off. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * Lets the page reach loopback only; returns the list of everything else it tried (a test asserts
 * it stays empty: no CDN, no phone-home from the page or from a library injected into it).
 */
export async function loopbackOnly(page: Page): Promise<string[]> {
  const blocked: string[] = [];
  await page.context().route('**/*', async (route) => {
    const url = route.request().url();
    const { hostname } = new URL(url);
    if (hostname === '127.0.0.1' || hostname === 'localhost' || url.startsWith('data:')) {
      await route.continue();
    } else {
      blocked.push(url);
      await route.abort();
    }
  });
  return blocked;
}
