import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { closeRedis } from '../../shared/cache/redis.js';
import { resetSettingsForTests } from '../../shared/config/index.js';
import { closeOrms } from '../../shared/db/orm.js';
import { resetStripeClientForTests } from '../../shared/services/payments/stripe-client.js';
import { closeTestPool } from '../fixtures/sample_data.js';
import { installRecordingBus, type RecordingBus } from './recording-bus.js';

/**
 * A test file's own fake Stripe for handlers and services called in-process: the settings and the
 * cached Stripe client are pointed at it, messages go to a recording bus. The fake has no webhook URL,
 * so it only records its events; the file delivers them itself, in the order it chooses.
 */

/**
 * Points the in-process app at `fake`: STRIPE_API_BASE (and `env`, set before the settings are read
 * again), a fresh Stripe client, a recording message bus.
 */
export function pointAppAtFakeStripe(fake: FakeStripe, env: Record<string, string> = {}): RecordingBus {
  process.env.STRIPE_API_BASE = fake.url;
  Object.assign(process.env, env);
  resetSettingsForTests();
  resetStripeClientForTests();
  return installRecordingBus();
}

/** Stops `fake`, then closes what the in-process app and the fixtures opened (Redis, ORMs, test pool). */
export async function closeFakeStripeAndApp(fake: FakeStripe | undefined): Promise<void> {
  await fake?.close();
  await closeRedis();
  await closeOrms();
  await closeTestPool();
}

/** A stripe-node client of the fake, for what the test reads or does at "Stripe" itself. */
export function stripeClientOf(fake: FakeStripe, apiKey: string): Stripe {
  return new Stripe(apiKey, { host: '127.0.0.1', port: fake.port, protocol: 'http', telemetry: false });
}

export interface FakeStripeFixture {
  fake: () => FakeStripe;
  /** A stripe-node client of the fake under the fixture's `apiKey` (idempotency keys are scoped to it). */
  stripe: () => Stripe;
  bus: () => RecordingBus;
}

/**
 * Registers the file's beforeAll (start the fake, point the app at it) and afterAll (stop it, close the
 * app's connections); `eachTest` forgets the fake's injected faults, or everything it knows, before each
 * test. Getters, because the fake exists only once beforeAll ran.
 */
export function useFakeStripe(
  options: { apiKey?: string; env?: Record<string, string>; eachTest?: 'clearFaults' | 'reset' } = {},
): FakeStripeFixture {
  let fake: FakeStripe | undefined;
  let stripe: Stripe | undefined;
  let bus: RecordingBus | undefined;
  const started = (): FakeStripe => {
    if (!fake) throw new Error('useFakeStripe: the fake starts in beforeAll');
    return fake;
  };
  beforeAll(async () => {
    fake = await startFakeStripe({ webhookSecret: process.env.STRIPE_WEBHOOK_SECRET! });
    bus = pointAppAtFakeStripe(fake, options.env);
  });
  if (options.eachTest === 'clearFaults') {
    beforeEach(() => {
      started().clearFaults();
    });
  }
  if (options.eachTest === 'reset') {
    beforeEach(() => {
      started().reset();
    });
  }
  afterAll(() => closeFakeStripeAndApp(fake));
  return {
    fake: started,
    stripe: () => (stripe ??= stripeClientOf(started(), options.apiKey ?? 'sk_test_fixture')),
    bus: () => {
      if (!bus) throw new Error('useFakeStripe: the bus is installed in beforeAll');
      return bus;
    },
  };
}
