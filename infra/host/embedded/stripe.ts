import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** What the host needs from infra/fake-stripe/server (built by the checkout work). */
interface FakeStripeModule {
  startFakeStripe(options: {
    port?: number;
    webhookUrl?: string;
    webhookSecret: string;
  }): Promise<{ url: string; close(): Promise<void> }>;
}

export interface EmbeddedStripe {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts the project's fake Stripe when its compiled module is present. Loaded by path at run time so
 * the host builds and runs before (or without) it: then undefined is returned and payments fail with the
 * SDK's own error against the real API base, which the start-up banner explains.
 */
export async function startLocalStripe(options: {
  webhookUrl: string;
  webhookSecret: string;
}): Promise<EmbeddedStripe | undefined> {
  const candidate = path.resolve(__dirname, '..', '..', 'fake-stripe', 'server.js');
  if (!existsSync(candidate)) return undefined;
  const mod = createRequire(candidate)(candidate) as Partial<FakeStripeModule>;
  if (typeof mod.startFakeStripe !== 'function') return undefined;
  const fake = await mod.startFakeStripe({
    port: 0,
    webhookUrl: options.webhookUrl,
    webhookSecret: options.webhookSecret,
  });
  return { url: fake.url, stop: () => fake.close() };
}
