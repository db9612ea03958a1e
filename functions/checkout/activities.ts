import '../lib/telemetry-start.js';
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { CheckoutSteps } from '../../shared/services/checkout/checkout-steps.js';
import {
  ACTIVITY,
  type CheckoutInput,
  type CompensateInput,
  type ConfirmInput,
} from '../../shared/services/checkout/checkout-types.js';

/**
 * The checkout activities: thin adapters from the activity trigger to CheckoutSteps, where each step is
 * implemented (and made safe to run twice). A thrown error fails the attempt; the orchestration's
 * RetryOptions decide whether to try again.
 */
df.app.activity(ACTIVITY.reserve, {
  handler: (input: CheckoutInput, context: InvocationContext) => new CheckoutSteps(context).reserve(input),
});

df.app.activity(ACTIVITY.createIntent, {
  handler: (input: CheckoutInput, context: InvocationContext) =>
    new CheckoutSteps(context).createIntent(input),
});

df.app.activity(ACTIVITY.confirm, {
  handler: (input: ConfirmInput, context: InvocationContext) => new CheckoutSteps(context).confirm(input),
});

df.app.activity(ACTIVITY.finalize, {
  handler: (input: CheckoutInput, context: InvocationContext) => new CheckoutSteps(context).finalize(input),
});

df.app.activity(ACTIVITY.compensate, {
  handler: (input: CompensateInput, context: InvocationContext) =>
    new CheckoutSteps(context).compensate(input),
});
