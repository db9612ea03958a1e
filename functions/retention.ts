import { app, type InvocationContext, type Timer } from '@azure/functions';
import { runRetention } from '../shared/services/retention/retention.js';

/**
 * Hourly: purge what the app no longer needs (expired refresh tokens, old Stripe event ids, relayed
 * audit outbox rows, finished export jobs and their blobs), in bounded batches (issue 19). A run that
 * cannot finish a backlog leaves the rest to the next one.
 */
export async function retention(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await runRetention(context);
  const purged = result.refreshTokens + result.stripeEvents + result.auditOutbox + result.exportJobs;
  if (purged > 0 || result.failed > 0) context.info(`retention: ${JSON.stringify(result)}`);
}

// Minute 17: away from the top of the hour, when other schedules cluster.
app.timer('retention', { schedule: '0 17 * * * *', handler: retention });
