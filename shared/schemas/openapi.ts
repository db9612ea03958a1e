import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { Problem } from './common.js';

/**
 * The API's OpenAPI registry. Each HTTP route adds itself when its module loads (functions/lib/route.ts),
 * from the same zod schemas the handler validates with, so the document cannot drift from the code.
 */
export const registry = new OpenAPIRegistry();

registry.register('Problem', Problem);
registry.registerComponent('securitySchemes', 'bearer', {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description: 'Access token from /auth/login (15 minutes).',
});
registry.registerComponent('securitySchemes', 'adminToken', {
  type: 'apiKey',
  in: 'header',
  name: 'X-Admin-Token',
  description: 'Admin endpoints need this and a bearer token with the admin role.',
});
registry.registerComponent('securitySchemes', 'tenant', {
  type: 'apiKey',
  in: 'header',
  name: 'X-Tenant-ID',
  description: 'The tenant of an unauthenticated call (authenticated calls take it from the token).',
});

export function registerPath(route: RouteConfig): void {
  registry.registerPath(route);
}

let cached: ReturnType<OpenApiGeneratorV31['generateDocument']> | undefined;

export function openApiDocument(): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  cached ??= new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'ecommerce-api',
      version: '1.0.0',
      description:
        'Multi-tenant commerce API on Azure Functions. Errors are RFC 9457 `application/problem+json`. ' +
        'Money is in integer minor units. Lists use opaque keyset cursors.',
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: '/api', description: 'This deployment' }],
    tags: [
      { name: 'auth', description: 'Accounts and tokens' },
      { name: 'products', description: 'Catalog' },
      { name: 'reviews', description: 'Product reviews' },
      { name: 'cart', description: 'The customer’s cart' },
      { name: 'checkout', description: 'Placing orders' },
      { name: 'orders', description: 'Order history' },
      { name: 'admin', description: 'Catalog and export administration' },
      { name: 'webhooks', description: 'Inbound provider webhooks' },
      { name: 'operations', description: 'Health and documentation' },
    ],
  });
  return cached;
}

/** Routes registered after the document was first generated invalidate it. */
export function resetOpenApiCache(): void {
  cached = undefined;
}
