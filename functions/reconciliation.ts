import './lib/telemetry-start.js';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { reconcilePayments, RECONCILIATION_METRIC } from '../shared/services/checkout/reconciliation.js';
import { redrivePendingRefunds, reportRedrive } from '../shared/services/orders/refund-redrive.js';
import { trackMetric } from '../shared/telemetry/index.js';

/**
 * Every 5 minutes: Stripe's recent PaymentIntents against the ledger. Ends what a lost webhook or a dead
 * orchestration left (finalize, refund, cancel); the counts go to the ReconciliationCount metric, whose
 * work outcomes raise the alert in bicep/modules/alerts.bicep. A Stripe outage fails the run (logged);
 * the next one covers the same window. Then refunds a Stripe outage left pending are driven again (they
 * are money promised to a customer; nobody may repeat the request).
 */
export async function paymentReconciliation(_timer: Timer, context: InvocationContext): Promise<void> {
  try {
    await reconcilePayments(context);
  } catch (error) {
    context.warn(
      'reconciliation: run failed; the next run covers the same window',
      error instanceof Error ? error.message : '',
    );
  }
  try {
    const redriven = await redrivePendingRefunds(context);
    reportRedrive(context, redriven, (outcome, value) =>
      trackMetric(RECONCILIATION_METRIC, value, { outcome }),
    );
  } catch (error) {
    context.warn(
      'refund re-drive: run failed; the next run retries',
      error instanceof Error ? error.message : '',
    );
  }
}

app.timer('paymentReconciliation', { schedule: '30 */5 * * * *', handler: paymentReconciliation });
