import './lib/telemetry-start.js';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { setAuditNudgeRunner } from '../shared/services/audit/nudge.js';
import { getAuditRelay } from '../shared/services/audit/relay.js';
import { sweepExpiredReservations } from '../shared/services/checkout/reservation-sweeper.js';

// In a Functions process, writes that add audit rows nudge the relay right after they commit; the
// timer below is the backstop (and what drains the backlog after an audit-database outage).
setAuditNudgeRunner(() => getAuditRelay().drain());

/** Every minute: reservations past their expiry whose order never got paid go back on sale. */
export async function reservationSweeper(_timer: Timer, context: InvocationContext): Promise<void> {
  await sweepExpiredReservations(context);
}

/**
 * Every 30 seconds: copy pending audit outbox rows to the audit database. While it is down the run
 * fails (logged) and the rows wait; the next run after it returns moves them, each exactly once.
 */
export async function auditRelay(_timer: Timer, context: InvocationContext): Promise<void> {
  try {
    const moved = await getAuditRelay().drain();
    if (moved > 0) context.debug(`audit relay: ${moved} row(s) relayed`);
  } catch (error) {
    context.warn(
      'audit relay: audit database unavailable; rows wait in the outbox',
      error instanceof Error ? error.message : '',
    );
  }
}

app.timer('reservationSweeper', { schedule: '0 * * * * *', handler: reservationSweeper });
app.timer('auditRelay', { schedule: '*/30 * * * * *', handler: auditRelay });
