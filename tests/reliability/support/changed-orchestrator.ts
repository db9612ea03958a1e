import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { checkoutOrchestrator, transientRetry } from '../../../functions/checkout/orchestrator.js';
import {
  ACTIVITY,
  CHECKOUT_ORCHESTRATION,
  type CheckoutInput,
  type CheckoutResult,
} from '../../../shared/services/checkout/checkout-types.js';

/**
 * "Version 2" of the checkout orchestrator, as a careless deploy ships it: the same saga, plus one new
 * step — before waiting for the customer (3-D Secure) or for Stripe (`processing`), it checks the payment
 * once. Registered under the same name, the host loads it over the app's (`--replace-with`,
 * tests/support/host-process.ts `replaceWith`). New instances run it and stay correct (the check only
 * reads). Instances that were already waiting recorded a durable timer where the replay now schedules
 * an activity: the Durable extension fails them with NonDeterministicOrchestrationException, and the
 * sweeper and reconciliation must settle their orders and money. Instances that had not reached the
 * wait yet replay cleanly and continue on the new code.
 */
export function* changedCheckoutOrchestrator(
  context: OrchestrationContext,
): Generator<Task, CheckoutResult, unknown> {
  // The payment wait is the saga's only Task.any: tag the tasks it builds (this context is per episode).
  const waits = new WeakSet<Task>();
  const any = context.df.Task.any;
  context.df.Task.any = (tasks: Task[]): Task => {
    const task = any(tasks);
    waits.add(task);
    return task;
  };
  const input = context.df.getInput<CheckoutInput>();
  const inner = checkoutOrchestrator(context);
  let checked = false;
  let step = inner.next();
  while (!step.done) {
    if (!checked && waits.has(step.value)) {
      checked = true;
      try {
        yield context.df.callActivityWithRetry(ACTIVITY.checkPayment, transientRetry(), input);
      } catch {
        // Only a look: the wait that follows handles the payment whatever it is.
      }
    }
    let answer: unknown;
    try {
      answer = yield step.value;
    } catch (error) {
      step = inner.throw(error);
      continue;
    }
    step = inner.next(answer);
  }
  return step.value;
}

df.app.orchestration(CHECKOUT_ORCHESTRATION, changedCheckoutOrchestrator);
