import '../lib/telemetry-start.js';
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { CheckoutSaga } from '../../shared/services/checkout/checkout-saga.js';
import {
  ACTIVITY,
  type CheckoutInput,
  type CompensateInput,
  type ConfirmInput,
  type UndoPaymentInput,
} from '../../shared/services/checkout/checkout-types.js';

/**
 * The checkout activities: thin adapters from the activity trigger to the saga's steps and their
 * compensations (shared/services/checkout/steps/), each safe to run twice. A thrown error fails the
 * attempt; the orchestration's RetryOptions and pauses decide whether to try again.
 */
const saga = (context: InvocationContext): CheckoutSaga => new CheckoutSaga(context);

df.app.activity(ACTIVITY.reserve, {
  handler: (input: CheckoutInput, context: InvocationContext) => saga(context).reserve(input),
});

df.app.activity(ACTIVITY.release, {
  handler: (input: CompensateInput, context: InvocationContext) => saga(context).release(input),
});

df.app.activity(ACTIVITY.extendReservation, {
  handler: (input: CheckoutInput, context: InvocationContext) => saga(context).extendReservation(input),
});

df.app.activity(ACTIVITY.createIntent, {
  handler: (input: CheckoutInput, context: InvocationContext) => saga(context).createIntent(input),
});

df.app.activity(ACTIVITY.undoPaymentIntent, {
  handler: (input: UndoPaymentInput, context: InvocationContext) => saga(context).undoPaymentIntent(input),
});

df.app.activity(ACTIVITY.confirm, {
  handler: (input: ConfirmInput, context: InvocationContext) => saga(context).confirm(input),
});

df.app.activity(ACTIVITY.checkPayment, {
  handler: (input: CheckoutInput, context: InvocationContext) => saga(context).checkPayment(input),
});

df.app.activity(ACTIVITY.finalize, {
  handler: (input: CheckoutInput, context: InvocationContext) => saga(context).finalize(input),
});
