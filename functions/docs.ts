import './lib/telemetry-start.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openApiDocument } from '../shared/schemas/openapi.js';
import { z } from '../shared/schemas/zod.js';
import { NotFoundException } from '../shared/errors/index.js';
import { defineRoute, type RouteResult } from './lib/route.js';

// Served from the installed package: the docs page works offline and loads nothing from a CDN.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const assetRoot = (require('swagger-ui-dist') as { getAbsoluteFSPath(): string }).getAbsoluteFSPath();
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};
const assetCache = new Map<string, Buffer>();

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>ecommerce-api — API documentation</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/swagger-ui-standalone-preset.js"></script>
  <script src="docs/init.js"></script>
</body>
</html>`;

// Relative URLs keep the page working behind any host or proxy path; no inline script (CSP-friendly).
const INIT = `window.ui = SwaggerUIBundle({
  url: new URL('openapi.json', window.location.href).pathname,
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
  validatorUrl: null,
  tryItOutEnabled: false
});`;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'",
  'x-content-type-options': 'nosniff',
};

export const openApiJson = defineRoute({
  name: 'openapi',
  method: 'GET',
  route: 'openapi.json',
  access: 'public',
  tx: 'none',
  tags: ['operations'],
  summary: 'This OpenAPI 3.1 document',
  responses: {
    200: {
      description: 'The document',
      content: { 'application/json': { schema: z.object({}).passthrough() } },
    },
  },
  handler: async () => ({ body: openApiDocument(), headers: { 'cache-control': 'public, max-age=60' } }),
});

export const docsPage = defineRoute({
  name: 'docs',
  method: 'GET',
  route: 'docs',
  access: 'public',
  tx: 'none',
  tags: ['operations'],
  summary: 'Swagger UI',
  responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } } },
  handler: async () => ({
    raw: {
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS },
      body: PAGE,
    },
  }),
});

export const docsAsset = defineRoute({
  name: 'docsAsset',
  method: 'GET',
  route: 'docs/{asset}',
  access: 'public',
  tx: 'none',
  hidden: true,
  tags: ['operations'],
  summary: 'Swagger UI asset',
  params: z.object({ asset: z.string().max(64) }),
  responses: {},
  handler: async ({ params }): Promise<RouteResult> => {
    if (params.asset === 'init.js') {
      return {
        raw: {
          status: 200,
          headers: { 'content-type': 'application/javascript; charset=utf-8' },
          body: INIT,
        },
      };
    }
    // Only the listed files: the name never reaches the file system unless it is one of them.
    const type = Object.hasOwn(ASSETS, params.asset) ? ASSETS[params.asset] : undefined;
    if (!type) throw new NotFoundException('No such asset.');
    let content = assetCache.get(params.asset);
    if (!content) {
      content = await readFile(path.join(assetRoot, params.asset));
      assetCache.set(params.asset, content);
    }
    return {
      raw: {
        status: 200,
        headers: {
          'content-type': type,
          'cache-control': 'public, max-age=86400',
          'x-content-type-options': 'nosniff',
        },
        body: new Uint8Array(content),
      },
    };
  },
});
