import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { NotFoundException } from '../shared/errors/index.js';
import { z } from '../shared/schemas/zod.js';
import { defineRoute, type RouteResult } from './lib/route.js';

/**
 * The admin console (docs/adr/0070-admin-console.md): static files bundled by `npm run build` into
 * dist/console, next to dist/functions — never under it, where the `main` glob would load them as
 * function modules. Run from TypeScript sources (tests), this file reads the same built folder.
 */
export const CONSOLE_ASSET_DIR = path.resolve(
  __dirname,
  '..',
  ...(__filename.endsWith('.ts') ? ['dist'] : []),
  'console',
);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * Nothing inline, nothing from elsewhere: the console's script and style come from this origin only,
 * and it talks to this API only. A framing site could trick an admin into clicking: no framing.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface Asset {
  type: string;
  body: Buffer;
}

let listing: Promise<Map<string, Asset>> | undefined;

/**
 * The servable files are exactly the ones the build wrote, read once: a requested name is only ever a
 * key into this map, so no request can name a path (`..`, encoded slashes, absolute paths) to open.
 */
async function loadAssets(dir: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const type = TYPES[path.extname(entry.name)];
    if (entry.isFile() && type)
      assets.set(entry.name, { type, body: await readFile(path.join(dir, entry.name)) });
  }
  return assets;
}

/** One console file by name, or a 404 (also when the console was not built). */
export async function consoleAsset(name: string, dir = CONSOLE_ASSET_DIR): Promise<RouteResult> {
  const load = dir === CONSOLE_ASSET_DIR ? (listing ??= loadAssets(dir)) : loadAssets(dir);
  const assets = await load.catch(() => {
    if (dir === CONSOLE_ASSET_DIR) listing = undefined;
    return new Map<string, Asset>();
  });
  const asset = assets.get(name);
  if (!asset) throw new NotFoundException('No such console file.');
  // The page names its assets by content hash: the page is revalidated, the assets never change.
  const caching = name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable';
  return {
    raw: {
      status: 200,
      headers: { 'content-type': asset.type, 'cache-control': caching, ...SECURITY_HEADERS },
      body: new Uint8Array(asset.body),
    },
  };
}

export const consolePage = defineRoute({
  name: 'console',
  method: 'GET',
  route: 'console',
  access: 'public',
  tx: 'none',
  hidden: true,
  tags: ['operations'],
  summary: 'Admin console',
  responses: {},
  handler: async ({ request }) => {
    // At `console/` the page's relative asset URLs would point one folder too deep: send it to `console`.
    const { pathname } = new URL(request.url);
    if (pathname.endsWith('/'))
      return { raw: { status: 308, headers: { location: pathname.replace(/\/+$/, '') } } };
    return consoleAsset('index.html');
  },
});

export const consoleFile = defineRoute({
  name: 'consoleAsset',
  method: 'GET',
  route: 'console/{asset}',
  access: 'public',
  tx: 'none',
  hidden: true,
  tags: ['operations'],
  summary: 'Admin console asset',
  params: z.object({ asset: z.string().max(100) }),
  responses: {},
  handler: async ({ params }) => consoleAsset(params.asset),
});
