import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { FakeStripe } from '../../infra/fake-stripe/server.js';
import { createProduct, createTenant } from '../fixtures/sample_data.js';
import { sleep } from '../support/faults.js';
import type { HostProcess } from '../support/host-process.js';
import { checkSettled } from '../support/invariants.js';
import type { OwnDatabases } from './support/databases.js';
import { spawnHostOn, startOwnStack, stopOwnStack } from './support/own-host.js';
import {
  CHANGED_ORCHESTRATOR,
  failedAsNonDeterministic,
  instanceOf,
  type InstanceView,
} from './support/deploy.js';
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
 * Issue #17 item 5, "the orchestration instance failed … including a changed orchestrator:
 * non-determinism after a deploy", black-box through the compiled host and the fake Stripe.
 *
 * Checkouts are left in flight at several points — waiting for 3-D Secure, `processing` at Stripe, just
 * accepted — and a changed checkout orchestrator is deployed (the host restarted with
 * ./support/changed-orchestrator.ts registered over the app's: one extra activity before the payment
 * wait). Then the customers finish paying (or never do) and Stripe settles. The instances that were
 * waiting replay against the new code, disagree with their history and fail as non-deterministic, as
 * Azure's Durable extension fails them; checkouts started after the deploy run the new code to the end.
 * The sweeper and reconciliation (run through the host's admin API) must then settle every order:
 * every charge ends as a confirmed order or a refund, stock conserved, nothing left reserved.
 */

// Long enough for every checkout to be waiting when the deploy happens, short enough for a quick test.
const PAYMENT_TIMEOUT_SECONDS = 20;
// Must exceed the payment window plus the 30 s retry budget (settings.ts refuses less).
const RESERVATION_TTL_SECONDS = 55;

type Kind =
  | 'threeDSecurePaid' // waiting for 3-D Secure at the deploy; authenticated after it
  | 'threeDSecureAbandoned' // waiting for 3-D Secure at the deploy; never authenticated
  | 'processingSucceeds' // `processing` at the deploy; succeeds after it
  | 'processingFails' // `processing` at the deploy; fails after it
  | 'justPlaced' // accepted right before the deploy, wherever its instance got to
  | 'afterDeployCard' // placed on the new code, paid by card
  | 'afterDeployThreeDSecure'; // placed on the new code, authenticated

const PM: Record<Kind, string> = {
  threeDSecurePaid: 'pm_card_authenticationRequired',
  threeDSecureAbandoned: 'pm_card_authenticationRequired',
  processingSucceeds: 'pm_fake_processing',
  processingFails: 'pm_fake_processingThenFail',
  justPlaced: 'pm_card_visa',
  afterDeployCard: 'pm_card_visa',
  afterDeployThreeDSecure: 'pm_card_authenticationRequired',
};

/** Whose replay must hit the new step: they had recorded the payment wait's timer before the deploy. */
const WAITING: Kind[] = [
  'threeDSecurePaid',
  'threeDSecureAbandoned',
  'processingSucceeds',
  'processingFails',
];

let dbs: OwnDatabases;
let pool: pg.Pool;
let fake: FakeStripe;
let host: HostProcess | undefined;
const env = {
  CHECKOUT_PAYMENT_TIMEOUT_SECONDS: String(PAYMENT_TIMEOUT_SECONDS),
  RESERVATION_TTL_SECONDS: String(RESERVATION_TTL_SECONDS),
};

beforeAll(async () => {
  ({ dbs, pool, fake } = await startOwnStack('deploy', 4));
  host = await spawnHostOn({ dbs, fake }, env);
}, 120_000);

afterAll(() => stopOwnStack({ host, fake, pool, dbs }));

describe('a changed checkout orchestrator deployed while checkouts are in flight', () => {
  it('fails the waiting instances as non-deterministic, runs new ones on the new code, and no money is lost', async () => {
    const current = (): HostProcess => host!;
    const tenantId = (await createTenant('Deploy shop')).id;
    const stock = 40;
    const productId = (await createProduct(tenantId, { name: 'Deployed', stock, priceCents: 4200 })).id;
    const shop: Shop = shopThrough(tenantId, pool, current);

    const intentOf = async (orderId: string): Promise<string> => {
      for (const until = Date.now() + 30_000; Date.now() < until; await sleep(100)) {
        const found = fake.paymentIntents().find((pi) => pi.metadata?.orderId === orderId);
        if (found) return found.id;
      }
      throw new Error(`no PaymentIntent for order ${orderId}`);
    };
    const untilStatus = async (pi: string, status: string): Promise<void> => {
      for (const until = Date.now() + 30_000; Date.now() < until; await sleep(100))
        if (fake.paymentIntents().find((p) => p.id === pi)?.status === status) return;
      throw new Error(`${pi} never reached ${status}`);
    };
    const kindOf = new Map<string, Kind>();
    const intents = new Map<string, string>();
    const place = async (kind: Kind): Promise<string> => {
      const shopper = await shopperWithCart(shop, [{ productId, quantity: 1 }]);
      const { orderId } = await placeOrder(shop, shopper, PM[kind]);
      kindOf.set(orderId, kind);
      return orderId;
    };
    const ofKind = (kind: Kind): string[] => [...kindOf].filter(([, k]) => k === kind).map(([id]) => id);

    // 1. Checkouts in flight, each waiting where its kind says (the payment wait's timer recorded).
    for (const kind of WAITING) {
      for (let i = 0; i < (kind === 'threeDSecurePaid' ? 2 : 1); i++) {
        const orderId = await place(kind);
        const pi = await intentOf(orderId);
        intents.set(orderId, pi);
        await untilStatus(pi, kind.startsWith('processing') ? 'processing' : 'requires_action');
      }
    }
    await place('justPlaced');
    await place('justPlaced');

    // 2. The deploy: the host drains and stops; the new version starts on the same task hub.
    await current().stop();
    host = await spawnHostOn({ dbs, fake }, env, { replaceWith: [CHANGED_ORCHESTRATOR] });
    expect(current().output()).toMatch(/Functions replaced by 1 test module/);

    // 3. The customers and Stripe carry on; new customers check out on the new code.
    for (const orderId of ofKind('threeDSecurePaid'))
      await fake.completeAuthentication(intents.get(orderId)!, 'succeed');
    await fake.settleProcessing(intents.get(ofKind('processingSucceeds')[0]!)!, 'succeed');
    await fake.settleProcessing(intents.get(ofKind('processingFails')[0]!)!, 'fail');
    await place('afterDeployCard');
    const late3ds = await place('afterDeployThreeDSecure');
    const latePi = await intentOf(late3ds);
    await untilStatus(latePi, 'requires_action');
    await fake.completeAuthentication(latePi, 'succeed');

    // 4. Every instance that was waiting fails as non-deterministic once it replays (the abandoned one
    //    when its payment timer fires); the new ones complete on the new code.
    const views = new Map<string, InstanceView | undefined>();
    const waitingIds = WAITING.flatMap(ofKind);
    const newIds = [...ofKind('afterDeployCard'), ...ofKind('afterDeployThreeDSecure')];
    for (const until = Date.now() + (PAYMENT_TIMEOUT_SECONDS + 40) * 1000; Date.now() < until;) {
      for (const id of [...waitingIds, ...newIds]) views.set(id, await instanceOf(current(), id));
      const finished = [...views.values()].every(
        (v) => v && !['Running', 'Pending'].includes(v.runtimeStatus),
      );
      if (finished) break;
      await sleep(1_000);
    }
    const describeViews = JSON.stringify(
      Object.fromEntries([...views].map(([id, v]) => [`${kindOf.get(id)} ${id}`, v])),
    );
    for (const id of waitingIds) expect(failedAsNonDeterministic(views.get(id)), describeViews).toBe(true);
    for (const id of newIds) expect(views.get(id)?.runtimeStatus, describeViews).toBe('Completed');
    const byId = await orderStatuses(pool, newIds);
    for (const id of newIds) expect(byId.get(id)?.status).toBe('confirmed');

    // 5. The sweeper and reconciliation settle what the failed instances left, until the invariant holds.
    const ids = [...kindOf.keys()];
    const check = () =>
      checkSettled(dbs, fake, { initialStock: new Map([[productId, stock]]), tenantIds: [tenantId] });
    let report = await check();
    for (const until = Date.now() + (RESERVATION_TTL_SECONDS + 90) * 1000; ;) {
      await runTimer(shop, 'reservationSweeper').catch(() => undefined);
      await runTimer(shop, 'paymentReconciliation').catch(() => undefined);
      await fake.webhooksIdle(10_000).catch(() => undefined);
      const statuses = await orderStatuses(pool, ids);
      if (ids.every((id) => FINAL_STATUSES.includes(statuses.get(id)?.status ?? ''))) {
        await drainAudit(shop).catch(() => undefined);
        report = await check();
        if (report.ok) break;
      }
      if (Date.now() > until) break;
      await sleep(3_000);
    }
    const statuses = await orderStatuses(pool, ids);
    const named = [...statuses].map(
      ([id, s]) => `${kindOf.get(id)} ${id}: ${s.status}/${s.failureReason ?? ''}`,
    );
    expect(
      report.checks.filter((c) => !c.ok),
      `${report.summary()}\n${named.join('\n')}`,
    ).toEqual([]);
    // Paid while their reservation still held: the customers get their orders (reconciliation finalizes
    // what the failed instance could not), not merely their money back.
    for (const id of [...ofKind('threeDSecurePaid'), ...ofKind('processingSucceeds')])
      expect(statuses.get(id)?.status, named.join('\n')).toBe('confirmed');
    expect(statuses.get(ofKind('threeDSecureAbandoned')[0]!)?.status).not.toBe('confirmed');
    expect(statuses.get(ofKind('processingFails')[0]!)?.status).not.toBe('confirmed');
  }, 400_000);
});
