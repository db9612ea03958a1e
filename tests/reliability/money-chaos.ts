import pg from 'pg';
import { seededRandom } from '../../infra/datagen/random.js';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { closeTestPool, createProduct, createTenant } from '../fixtures/sample_data.js';
import { authHeaders, createUser } from '../fixtures/users.js';
import { sleep, withApplicationName } from '../support/faults.js';
import { spawnHost, type HostProcess } from '../support/host-process.js';
import { checkInvariants, type FakeIntentView, type InvariantReport } from '../support/invariants.js';
import { createOwnDatabases, tearDown } from './support/databases.js';
import { CHANGED_ORCHESTRATOR, failedAsNonDeterministic, instanceOf } from './support/deploy.js';
import {
  drainAudit,
  FINAL_STATUSES,
  orderStatuses,
  placeOrder,
  runTimer,
  shopperWithCart,
  shopThrough,
  type Shop,
} from './support/shop.js';

/**
 * The seeded money chaos run (issue #17 item 5): checkouts through the local host against the fake
 * Stripe, each given one scenario of what goes wrong around money, with webhooks delayed, duplicated,
 * reordered and some lost throughout, the host SIGKILLed and restarted once mid-run, and once a changed
 * checkout orchestrator deployed (the host stopped and started with ./support/changed-orchestrator.ts
 * registered over the app's: an extra activity before the payment wait), so the instances waiting for
 * 3-D Secure or `processing` at that moment replay non-deterministically and fail, as Azure's Durable
 * extension fails them, while later checkouts run the new code. Some confirmed orders (option `refunds`)
 * are then refunded in part or in full, or cancelled, by an admin through the `manage/` routes,
 * some through a saved Stripe 500 on the refund (the admin repeats the request, as the API says). Then
 * the sweeper and reconciliation are run through the host's admin API until quiet, and the shared
 * invariant checker must pass: captured − refunded is what the order keeps (its total less refunds when
 * confirmed, 0 otherwise), stock conserved, nothing left reserved. The same seed replays the same plan
 * (which scenario each checkout gets, the delays, the after-sale actions and when the deploy happens);
 * timings of the host are not seeded.
 */

export const SCENARIOS = [
  'happy',
  'declined',
  'threeDSecure',
  'threeDSecureAfterExpiry',
  'processingSucceeds',
  'processingFails',
  'failThenSucceed',
  'terminated',
  'fault5xxCreate',
  'fault5xxConfirm',
  'fault5xxCancel',
  'fault5xxRefund',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Scenarios whose order normally ends confirmed: half of them get an after-sale action. */
const SELLS = new Set<Scenario>([
  'happy',
  'threeDSecure',
  'processingSucceeds',
  'failThenSucceed',
  'fault5xxCreate',
  'fault5xxConfirm',
]);

/** What an admin does to a checkout's order once it is confirmed (`refunds` option). */
export const AFTER_SALE = ['partialRefund', 'fullRefund', 'cancel'] as const;
export type AfterSale = (typeof AFTER_SALE)[number];

export interface ChaosOptions {
  size: number;
  seed: number;
  /** Checkouts in flight at once (default 6). */
  concurrency?: number;
  /** SIGKILL the host once at half the run and start it again (default true). */
  killHost?: boolean;
  /**
   * Deploy a changed checkout orchestrator once, at a seeded point between 30 % and 70 % of the run
   * (default true): instances waiting at that moment fail as non-deterministic.
   */
  changedOrchestrator?: boolean;
  /** After-sale actions on about half of the orders that normally sell (default true). */
  refunds?: boolean;
  /** Called after each checkout's scenario ran (progress/ETA). */
  progress?: (done: number, total: number) => void;
  log?: (line: string) => void;
  /** How long the sweeper/reconciliation rounds may take to settle everything (default 300 s). */
  settleTimeoutMs?: number;
}

export interface ChaosReport {
  seed: number;
  size: number;
  elapsedMs: number;
  scenarios: Record<string, number>;
  /** Orders by final status/reason. */
  outcomes: Record<string, number>;
  /** Payments by ledger status. */
  payments: Record<string, number>;
  hostKills: number;
  deploys: number;
  /** Instances the Durable extension failed as non-deterministic (replayed against the changed code). */
  nonDeterministic: number;
  /**
   * After-sale actions by `action/outcome` (outcome: the refund's status, the order's status after a
   * cancel, `skipped` when the order did not end confirmed, `httpN`), and `repeated requests`.
   */
  afterSale: Record<string, number>;
  terminated: number;
  webhooksDropped: number;
  settleRounds: number;
  invariant: InvariantReport;
  /** Each order's scenario, to read a violation back to what was done to it. */
  scenarioOf: Record<string, Scenario>;
}

const PAYMENT_TIMEOUT_SECONDS = 6;
const PRICE_CENTS = 2500;
// Must exceed the payment window plus the 30 s retry budget (settings.ts refuses less).
const RESERVATION_TTL_SECONDS = 40;

const PM: Record<Scenario, string> = {
  happy: 'pm_card_visa',
  declined: 'pm_card_chargeDeclined',
  threeDSecure: 'pm_card_authenticationRequired',
  threeDSecureAfterExpiry: 'pm_card_authenticationRequired',
  processingSucceeds: 'pm_fake_processing',
  processingFails: 'pm_fake_processingThenFail',
  failThenSucceed: 'pm_card_chargeDeclined',
  terminated: 'pm_card_authenticationRequired',
  fault5xxCreate: 'pm_card_visa',
  fault5xxConfirm: 'pm_card_visa',
  // 3-D Secure never finished: the intent must be cancelled at the deadline, through a saved 500.
  fault5xxCancel: 'pm_card_authenticationRequired',
  // Authenticated after expiry, if Stripe still lets it: the refund goes through a saved 500.
  fault5xxRefund: 'pm_card_authenticationRequired',
};

const FAULT_PATH: Partial<Record<Scenario, string>> = {
  fault5xxCreate: '/v1/payment_intents',
  fault5xxConfirm: '/v1/payment_intents/*/confirm',
  fault5xxCancel: '/v1/payment_intents/*/cancel',
  fault5xxRefund: '/v1/refunds',
};

function tally(into: Record<string, number>, key: string, n = 1): void {
  into[key] = (into[key] ?? 0) + n;
}

/** Runs the chaos on databases, a fake Stripe and a host of its own; tears them down after. */
export async function runMoneyChaos(options: ChaosOptions): Promise<ChaosReport> {
  const {
    size,
    seed,
    concurrency = 6,
    killHost = true,
    changedOrchestrator = true,
    refunds = true,
    settleTimeoutMs = 300_000,
  } = options;
  const log = options.log ?? (() => undefined);
  const random = seededRandom(seed);
  const started = Date.now();
  const dbs = await createOwnDatabases('chaos');
  process.env.DATABASE_URL = withApplicationName(dbs.appUrl);
  process.env.AUDIT_DATABASE_URL = dbs.auditUrl;
  const pool = new pg.Pool({ connectionString: withApplicationName(dbs.appUrl), max: 4 });
  pool.on('error', () => undefined);
  let fake: FakeStripe | undefined;
  let host: HostProcess | undefined;
  try {
    fake = await startFakeStripe({
      webhookSecret: process.env.STRIPE_WEBHOOK_SECRET!,
      // Concurrent deliveries too: Stripe does not wait for one answer before the next (docs.stripe.com/webhooks).
      webhooks: {
        duplicate: 2,
        order: 'shuffle',
        batchWindowMs: 100,
        delayMs: 300,
        drop: 0.05,
        concurrency: 4,
      },
    });
    const stripe = fake;
    const env = {
      DATABASE_URL: dbs.appUrl,
      AUDIT_DATABASE_URL: dbs.auditUrl,
      STRIPE_API_BASE: fake.url,
      CHECKOUT_PAYMENT_TIMEOUT_SECONDS: String(PAYMENT_TIMEOUT_SECONDS),
      RESERVATION_TTL_SECONDS: String(RESERVATION_TTL_SECONDS),
    };
    host = await spawnHost({ env });
    fake.setWebhookUrl(`${host.baseUrl}/webhooks/stripe`);
    const current = (): HostProcess => host!;

    const tenantId = (await createTenant(`Chaos shop ${seed}`)).id;
    const stock = size * 2;
    const productId = (await createProduct(tenantId, { name: 'Chaos', stock, priceCents: PRICE_CENTS })).id;
    const initialStock = new Map([[productId, stock]]);
    const shop: Shop = shopThrough(tenantId, pool, current);

    // The whole plan is drawn up front from the seed, so a replay does not depend on timings.
    const plan = Array.from({ length: size }, () => ({
      scenario: SCENARIOS[Math.floor(random() * SCENARIOS.length)]!,
      quantity: 1 + Math.floor(random() * 2),
      delayMs: Math.floor(random() * 2_000),
    }));
    const scenarios: Record<string, number> = {};
    for (const p of plan) tally(scenarios, p.scenario);
    // Drawn after the checkouts' plan, so a seed's checkouts are the same with or without these.
    const afterSalePlan = plan.map((p) => {
      const pick = random();
      const action = AFTER_SALE[Math.floor(random() * AFTER_SALE.length)]!;
      const refundFault = random() < 0.5;
      return { action: SELLS.has(p.scenario) && pick < 0.5 ? action : undefined, refundFault };
    });
    let deployAt = Math.floor(size * (0.3 + random() * 0.4));
    if (killHost && deployAt === Math.floor(size / 2)) deployAt++;

    const intentOf = async (orderId: string, timeoutMs = 30_000): Promise<string | undefined> => {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const found = stripe.paymentIntents().find((pi) => pi.metadata?.orderId === orderId);
        if (found) return found.id;
        await sleep(100);
      }
      return undefined;
    };
    const statusOf = (pi: string): string | undefined =>
      stripe.paymentIntents().find((p) => p.id === pi)?.status;
    const untilStatus = async (pi: string, statuses: string[], timeoutMs = 20_000): Promise<boolean> => {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (statuses.includes(statusOf(pi) ?? '')) return true;
        await sleep(100);
      }
      return false;
    };
    let terminated = 0;
    const terminate = async (orderId: string): Promise<void> => {
      const h = current();
      const res = await fetch(
        `${h.url}/runtime/webhooks/durabletask/instances/${orderId}/terminate?reason=chaos&code=${encodeURIComponent(h.durableTaskKey)}`,
        { method: 'POST' },
      ).catch(() => undefined);
      if (res?.status === 202) terminated++;
    };

    const ids: string[] = [];
    const scenarioOf: Record<string, Scenario> = {};
    let done = 0;
    let hostKills = 0;
    let killing: Promise<void> | undefined;
    // What the host loads over the app's functions: the changed orchestrator once it was deployed.
    let replaceWith: string[] = [];
    const kill = async (): Promise<void> => {
      const old = current();
      await old.kill('SIGKILL');
      hostKills++;
      await sleep(300);
      host = await spawnHost({ env, replaceWith });
      stripe.setWebhookUrl(`${host.baseUrl}/webhooks/stripe`);
      log(`host killed and restarted at ${done}/${size}`);
    };
    let deploys = 0;
    let deploying: Promise<void> | undefined;
    // A deploy drains the host (SIGTERM: in-flight work finishes) and starts the new version.
    const deploy = async (): Promise<void> => {
      await current().stop();
      replaceWith = [CHANGED_ORCHESTRATOR];
      host = await spawnHost({ env, replaceWith });
      deploys++;
      stripe.setWebhookUrl(`${host.baseUrl}/webhooks/stripe`);
      log(`changed orchestrator deployed at ${done}/${size}`);
    };

    const afterSale: Record<string, number> = {};
    const admin = refunds ? await createUser(tenantId, { roles: ['admin'] }) : undefined;
    /** An admin's request, repeated (same Idempotency-Key) after a 5xx, a 409 or no answer, bounded. */
    const asAdmin = async (
      path: string,
      body: unknown,
      key: string,
      done: (status: number, answer: Record<string, unknown>) => boolean,
    ): Promise<{ status: number; answer: Record<string, unknown> }> => {
      let last = { status: 0, answer: {} as Record<string, unknown> };
      for (let attempt = 0; attempt < 12; attempt++) {
        const res = await fetch(`${shop.baseUrl()}${path}`, {
          method: 'POST',
          headers: {
            ...(await authHeaders(admin!)),
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(20_000),
        }).catch(() => undefined);
        const answer = ((await res?.json().catch(() => ({}))) ?? {}) as Record<string, unknown>;
        last = { status: res?.status ?? 0, answer };
        if (attempt > 0) tally(afterSale, 'repeated requests');
        if (done(last.status, answer)) return last;
        if (last.status >= 400 && last.status < 500 && last.status !== 409) return last;
        await sleep(300 * (attempt + 1));
      }
      return last;
    };
    const afterTheSale = async (index: number, orderId: string): Promise<void> => {
      const { action, refundFault } = afterSalePlan[index]!;
      if (!action || !admin) return;
      // Only a confirmed order; one that ended otherwise (or is still open after 10 s) is skipped.
      const until = Date.now() + 10_000;
      for (;;) {
        const status = (await orderStatuses(pool, [orderId])).get(orderId)?.status ?? '';
        if (status === 'confirmed') break;
        if (FINAL_STATUSES.includes(status) || Date.now() > until)
          return tally(afterSale, `${action}/skipped`);
        await sleep(250);
      }
      if (refundFault) {
        stripe.injectFault({
          method: 'POST',
          path: '/v1/refunds',
          status: 500,
          when: 'saved-before',
          times: 1,
        });
      }
      const { quantity } = plan[index]!;
      const total = quantity * PRICE_CENTS;
      const key = `chaos-${seed}-${index}`;
      const settledRefund = (status: number, answer: Record<string, unknown>): boolean =>
        status === 201 && answer.status !== 'pending';
      const refundsPending = (answer: Record<string, unknown>): boolean =>
        Array.isArray(answer.refunds) &&
        answer.refunds.some((r: { status?: unknown }) => r.status === 'pending');
      let outcome: string;
      if (action === 'cancel') {
        // "Repeating returns the same answer" and drives a refund Stripe left pending: the admin repeats
        // until the order's refunds are settled (API.md, POST /manage/orders/{id}/cancel).
        const res = await asAdmin(
          `/manage/orders/${orderId}/cancel`,
          { reason: 'chaos: cancelled by the shop', restock: true },
          key,
          (status, answer) => status === 200 && !refundsPending(answer),
        );
        outcome =
          res.status !== 200
            ? `http${res.status}`
            : `${String(res.answer.status)}${refundsPending(res.answer) ? ' (refund pending)' : ''}`;
      } else {
        const body =
          action === 'partialRefund'
            ? { amountCents: Math.floor(total / 3), reason: 'chaos: partial refund' }
            : { reason: 'chaos: full refund', restock: [{ productId, quantity }] };
        const res = await asAdmin(`/manage/orders/${orderId}/refunds`, body, key, settledRefund);
        outcome = res.status === 201 ? String(res.answer.status) : `http${res.status}`;
      }
      tally(afterSale, `${action}/${outcome}`);
    };

    const one = async (index: number): Promise<void> => {
      const step = plan[index]!;
      const fault = FAULT_PATH[step.scenario];
      if (fault && step.scenario !== 'fault5xxRefund') {
        stripe.injectFault({ method: 'POST', path: fault, status: 500, when: 'saved-before', times: 1 });
      }
      const shopper = await shopperWithCart(shop, [{ productId, quantity: step.quantity }]);
      const placed = await placeOrder(shop, shopper, PM[step.scenario], { deadlineMs: 180_000 });
      ids.push(placed.orderId);
      scenarioOf[placed.orderId] = step.scenario;
      const orderId = placed.orderId;
      switch (step.scenario) {
        case 'threeDSecure': {
          const pi = await intentOf(orderId);
          if (pi && (await untilStatus(pi, ['requires_action']))) {
            await sleep(step.delayMs);
            await stripe.completeAuthentication(pi, 'succeed').catch(() => undefined);
          }
          break;
        }
        case 'threeDSecureAfterExpiry':
        case 'fault5xxRefund': {
          const pi = await intentOf(orderId);
          if (pi && (await untilStatus(pi, ['requires_action']))) {
            await sleep(PAYMENT_TIMEOUT_SECONDS * 1000 + step.delayMs);
            if (step.scenario === 'fault5xxRefund') {
              stripe.injectFault({
                method: 'POST',
                path: '/v1/refunds',
                status: 500,
                when: 'saved-before',
                times: 1,
              });
            }
            // Stripe refuses once the intent is cancelled: that is the point.
            await stripe.completeAuthentication(pi, 'succeed').catch(() => undefined);
          }
          break;
        }
        case 'processingSucceeds':
        case 'processingFails': {
          const pi = await intentOf(orderId);
          // Stripe settles every `processing` payment in the end, so the bank's answer must come here too.
          // The confirm that makes it `processing` can be late: a host kill leaves its activity leased for
          // 60 s. So wait past that, and stop early if the intent ended another way.
          const ended = pi ? await untilStatus(pi, ['processing', 'canceled', 'succeeded'], 120_000) : false;
          if (pi && ended && statusOf(pi) === 'processing') {
            await sleep(step.delayMs);
            const outcome = step.scenario === 'processingSucceeds' ? 'succeed' : 'fail';
            await stripe
              .settleProcessing(pi, outcome)
              .catch((error: unknown) => log(`${orderId}: settling ${pi} failed: ${String(error)}`));
          } else if (pi && !ended) {
            log(`${orderId}: ${pi} never reached processing (${statusOf(pi) ?? 'unknown'})`);
          }
          break;
        }
        case 'failThenSucceed': {
          const pi = await intentOf(orderId);
          if (pi && (await untilStatus(pi, ['requires_payment_method', 'canceled']))) {
            await sleep(step.delayMs / 4);
            // The customer tries another card with the client secret; refused if already cancelled.
            await stripe.customerConfirm(pi, 'pm_card_visa').catch(() => undefined);
          }
          break;
        }
        case 'terminated': {
          const pi = await intentOf(orderId);
          if (pi) await untilStatus(pi, ['requires_action']);
          await terminate(orderId);
          if (pi && step.delayMs % 2 === 0) {
            // Half of them: the customer then finishes 3-D Secure; only reconciliation/the sweeper see it.
            await stripe.completeAuthentication(pi, 'succeed').catch(() => undefined);
          }
          break;
        }
        default:
          break;
      }
      await afterTheSale(index, orderId);
    };

    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < size) {
        const index = next++;
        if (killHost && hostKills === 0 && index === Math.floor(size / 2) && !killing) {
          killing = kill();
        }
        if (changedOrchestrator && index === deployAt && !deploying) {
          if (killing) await killing;
          deploying = deploy();
        }
        if (killing) await killing;
        if (deploying) await deploying;
        await one(index);
        done++;
        options.progress?.(done, size);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    log(`${size} checkouts placed; settling (sweeper + reconciliation through the admin API)`);

    // Until quiet: every order final, and then a round of sweeper + reconciliation that changes
    // nothing (the invariant's summary is the same twice) — or the invariant holds.
    const check = (): Promise<InvariantReport> =>
      checkInvariants({
        appUrl: dbs.appUrl,
        auditUrl: dbs.auditUrl,
        initialStock,
        tenantIds: [tenantId],
        paymentIntents: () => stripe.paymentIntents() as unknown as FakeIntentView[],
        stripeUrl: stripe.url,
        settled: true,
      });
    let settleRounds = 0;
    let invariant: InvariantReport | undefined;
    let previous = '';
    const until = Date.now() + settleTimeoutMs;
    for (;;) {
      settleRounds++;
      await runTimer(shop, 'reservationSweeper').catch(() => undefined);
      await runTimer(shop, 'paymentReconciliation').catch(() => undefined);
      await stripe.webhooksIdle(10_000).catch(() => undefined);
      const statuses = await orderStatuses(pool, ids);
      const open = ids.filter((id) => !FINAL_STATUSES.includes(statuses.get(id)?.status ?? ''));
      if (open.length === 0) {
        await drainAudit(shop).catch(() => undefined);
        invariant = await check();
        const summary = invariant.summary();
        if (invariant.ok || summary === previous) break;
        previous = summary;
      }
      if (Date.now() > until) {
        log(`not quiet after ${settleRounds} rounds: ${open.length} order(s) open`);
        break;
      }
      await sleep(3_000);
    }
    invariant ??= await check();

    const outcomes: Record<string, number> = {};
    for (const o of (await orderStatuses(pool, ids)).values()) {
      tally(outcomes, `${o.status}${o.failureReason ? `/${o.failureReason}` : ''}`);
    }
    let nonDeterministic = 0;
    for (const id of ids) if (failedAsNonDeterministic(await instanceOf(current(), id))) nonDeterministic++;
    const payments: Record<string, number> = {};
    const { rows } = await pool.query<{ status: string; n: number }>(
      'select status, count(*)::int as n from payments where tenant_id = $1 group by status',
      [tenantId],
    );
    for (const row of rows) tally(payments, row.status, row.n);
    return {
      seed,
      size,
      elapsedMs: Date.now() - started,
      scenarios,
      outcomes,
      payments,
      hostKills,
      deploys,
      nonDeterministic,
      afterSale,
      terminated,
      webhooksDropped: stripe.droppedEvents().length,
      settleRounds,
      invariant,
      scenarioOf,
    };
  } finally {
    await tearDown([
      () => host?.stop(),
      () => fake?.close(),
      () => pool.end(),
      () => closeTestPool(),
      () => dbs.drop(),
    ]);
  }
}
