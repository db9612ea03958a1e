import './lib/telemetry-start.js';
import { z } from '../shared/schemas/zod.js';
import { getHealthMonitor, HEALTH_CACHE_MS } from '../shared/services/health.js';
import { defineRoute } from './lib/route.js';

const Check = z.object({
  status: z.enum(['ok', 'down']),
  latencyMs: z.number(),
  error: z.string().optional(),
});
const Health = z
  .object({
    status: z.enum(['ok', 'degraded', 'down']),
    checks: z.object({ database: Check, auditDatabase: Check, redis: Check }),
  })
  .openapi('Health');
const Live = z.object({ status: z.literal('ok') }).openapi('Liveness');

export const health = defineRoute({
  name: 'health',
  method: 'GET',
  route: 'health',
  access: 'public',
  tx: 'none',
  tags: ['operations'],
  summary: 'Readiness: dependencies',
  description:
    '200 when PostgreSQL answers (status `degraded` when Redis or the audit database does not); 503 ' +
    `otherwise. Probed over connections kept for the purpose; one report is shared by every caller for ${HEALTH_CACHE_MS / 1000} s.`,
  responses: {
    200: { description: 'Serving', content: { 'application/json': { schema: Health } } },
    503: { description: 'PostgreSQL unreachable', content: { 'application/json': { schema: Health } } },
  },
  handler: async () => {
    const report = await getHealthMonitor().readiness();
    return {
      status: report.status === 'down' ? 503 : 200,
      body: report,
      headers: { 'cache-control': 'no-store' },
    };
  },
});

const LIVE_BODY = JSON.stringify({ status: 'ok' });

export const healthLive = defineRoute({
  name: 'healthLive',
  method: 'GET',
  route: 'health/live',
  access: 'public',
  tx: 'none',
  tags: ['operations'],
  summary: 'Liveness: the process answers',
  description: 'Touches no dependency: 200 whenever the worker can answer at all.',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Live } } } },
  handler: () => Promise.resolve({ json: LIVE_BODY, headers: { 'cache-control': 'no-store' } }),
});
