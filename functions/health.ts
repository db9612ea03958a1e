import './lib/telemetry-start.js';
import { z } from '../shared/schemas/zod.js';
import { checkHealth } from '../shared/services/health.js';
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

export const health = defineRoute({
  name: 'health',
  method: 'GET',
  route: 'health',
  access: 'public',
  tx: 'none',
  tags: ['operations'],
  summary: 'Liveness and dependencies',
  description:
    '200 when PostgreSQL answers (status `degraded` when Redis or the audit database does not); 503 otherwise.',
  responses: {
    200: { description: 'Serving', content: { 'application/json': { schema: Health } } },
    503: { description: 'PostgreSQL unreachable', content: { 'application/json': { schema: Health } } },
  },
  handler: async () => {
    const report = await checkHealth();
    return {
      status: report.status === 'down' ? 503 : 200,
      body: report,
      headers: { 'cache-control': 'no-store' },
    };
  },
});
