import Stripe from 'stripe';
import { getSettings } from '../../config/index.js';
import { getSecret } from '../../secrets/provider.js';

/**
 * The Stripe API version every request and our webhook endpoint use: the one stripe-node 23.1.0 pins
 * (its types describe only this version). docs/adr/0040-stripe-api-version.md records the move from
 * the old platform's 2023-10-16.
 */
export const STRIPE_API_VERSION: Stripe.LatestApiVersion = '2026-10-28.endive';

/** How long one Stripe call may take before it counts as a (transient) timeout. */
const STRIPE_TIMEOUT_MS = 15_000;

/**
 * No SDK-level retries: transient failures surface to the orchestration, whose RetryOptions retry the
 * whole activity with backoff (one retry policy, visible in the orchestration history). Each call
 * carries an idempotency key derived from the order, so any retry is safe.
 */
const MAX_NETWORK_RETRIES = 0;

export function stripeConfig(apiBase: string | undefined): Stripe.StripeConfig {
  const config: Stripe.StripeConfig = {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: MAX_NETWORK_RETRIES,
    timeout: STRIPE_TIMEOUT_MS,
    telemetry: false,
  };
  if (apiBase) {
    // A Stripe-compatible API elsewhere (the local fake Stripe): the SDK takes host/port/protocol.
    const url = new URL(apiBase);
    const protocol = url.protocol === 'http:' ? 'http' : 'https';
    config.host = url.hostname;
    config.port = url.port || (protocol === 'http' ? 80 : 443);
    config.protocol = protocol;
  }
  return config;
}

let cached: { key: string; base: string | undefined; client: Stripe } | undefined;

/**
 * The process's Stripe client. The secret key comes through the secret provider (Key Vault, cached
 * with a TTL): when the key rotates, the next call builds a client with the new key.
 */
export async function getStripe(): Promise<Stripe> {
  const key = await getSecret('STRIPE_SECRET_KEY');
  const base = getSettings().STRIPE_API_BASE;
  if (!cached || cached.key !== key || cached.base !== base) {
    cached = { key, base, client: new Stripe(key, stripeConfig(base)) };
  }
  return cached.client;
}

export function resetStripeClientForTests(): void {
  cached = undefined;
}
