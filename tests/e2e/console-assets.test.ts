import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CONSOLE_ASSET_DIR, CONSOLE_CSP, consoleAsset } from '../../functions/console.js';
import { startE2eHost, type E2eHost } from './support/host.js';

const BUDGET_GZIP_BYTES = 150 * 1024;

/** How the Function App serves the console: headers, what the page may load, and nothing else. */
describe('the admin console assets', () => {
  let host: E2eHost;

  beforeAll(async () => {
    host = await startE2eHost();
  }, 90_000);

  afterAll(async () => {
    await host?.stop();
  });

  it('stays under 150 kB gzipped (page, script and style together)', () => {
    const files = readdirSync(CONSOLE_ASSET_DIR);
    expect(files.filter((f) => f.endsWith('.js'))).toHaveLength(1);
    const sizes = Object.fromEntries(
      files.map((f) => [f, gzipSync(readFileSync(path.join(CONSOLE_ASSET_DIR, f)), { level: 9 }).length]),
    );
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    console.log(`console bundle gzipped: ${JSON.stringify(sizes)}, total ${total} bytes`);
    expect(total).toBeLessThan(BUDGET_GZIP_BYTES);
  });

  it('serves the page with a strict CSP, no inline code, and assets only from itself', async () => {
    const res = await fetch(`${host.baseUrl}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toBe(CONSOLE_CSP);
    expect(csp).toMatch(/(^|; )default-src 'self'(;|$)/);
    expect(csp).toMatch(/(^|; )script-src 'self'(;|$)/);
    expect(csp).toMatch(/(^|; )style-src 'self'(;|$)/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/unsafe-|https?:|\*/);

    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="console\/[^"/]+"/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    const urls = [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    for (const url of urls) expect(url).toMatch(/^console\/app-[A-Za-z0-9_-]+\.(js|css)$/);

    for (const url of urls) {
      const asset = await fetch(`${host.baseUrl}/${url}`);
      expect(asset.status, url).toBe(200);
      expect(asset.headers.get('content-type')).toBe(
        url.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
      );
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(asset.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
  });

  it('serves nothing but the built files: no path reaches the file system', async () => {
    for (const target of [
      '..%2f..%2fpackage.json',
      '..%2fconsole.js',
      '%2e%2e%2f%2e%2e%2fpackage.json',
      '..%5c..%5cpackage.json',
      '%2fetc%2fpasswd',
      'index.html%00.js',
      'app.js',
    ]) {
      const res = await fetch(`${host.baseUrl}/console/${target}`);
      const body = await res.text();
      expect(res.status, target).toBe(404);
      expect(body, target).not.toMatch(/"dependencies"|root:x:0|defineRoute/);
    }
  });

  it('sends console/ to console, where the relative asset URLs resolve', async () => {
    const res = await fetch(`${host.baseUrl}/console/`, { redirect: 'manual' });
    expect(res.status).toBe(308);
    expect(res.headers.get('location')).toBe(new URL(`${host.baseUrl}/console`).pathname);
  });

  it('ignores whatever in the folder is not a regular file of a served type', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'console-assets-'));
    writeFileSync(path.join(dir, 'app-abc.js'), 'export {};');
    writeFileSync(path.join(dir, 'notes.txt'), 'private');
    symlinkSync('/etc/passwd', path.join(dir, 'passwd.js'));
    const served = await consoleAsset('app-abc.js', dir);
    expect(served.raw?.status).toBe(200);
    for (const name of ['notes.txt', 'passwd.js', '../app-abc.js'])
      await expect(consoleAsset(name, dir), name).rejects.toThrow(/No such console file/);
  });
});
