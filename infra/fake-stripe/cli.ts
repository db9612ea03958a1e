// Standalone fake Stripe for manual use:
//   node dist/infra/fake-stripe/cli.js --port 12111 --webhook-url http://127.0.0.1:7071/api/webhooks/stripe \
//     --webhook-secret whsec_local
// Flags fall back to FAKE_STRIPE_PORT, FAKE_STRIPE_HOST, FAKE_STRIPE_WEBHOOK_URL,
// FAKE_STRIPE_WEBHOOK_SECRET (then STRIPE_WEBHOOK_SECRET), FAKE_STRIPE_API_KEY_PREFIX.
import { parseArgs } from 'node:util';
import { startFakeStripe } from './server.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'webhook-url': { type: 'string' },
      'webhook-secret': { type: 'string' },
      'api-key-prefix': { type: 'string' },
      duplicate: { type: 'string' },
      order: { type: 'string' },
      'delay-ms': { type: 'string' },
      drop: { type: 'string' },
      'processing-settle-ms': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: fake-stripe [--port N] [--host H] [--webhook-url URL] [--webhook-secret S] [--api-key-prefix P]\n' +
        '                   [--duplicate N] [--order in-order|reverse|shuffle] [--delay-ms N] [--drop 0..1]\n' +
        '                   [--processing-settle-ms N] [--quiet]',
    );
    return;
  }
  const env = process.env;
  const secret =
    values['webhook-secret'] ?? env.FAKE_STRIPE_WEBHOOK_SECRET ?? env.STRIPE_WEBHOOK_SECRET ?? 'whsec_fake';
  const optionalNumber = (v: string | undefined): number | undefined =>
    v === undefined ? undefined : Number(v);
  const fake = await startFakeStripe({
    port: Number(values.port ?? env.FAKE_STRIPE_PORT ?? 12111),
    host: values.host ?? env.FAKE_STRIPE_HOST ?? '127.0.0.1',
    webhookUrl: values['webhook-url'] ?? env.FAKE_STRIPE_WEBHOOK_URL,
    webhookSecret: secret,
    apiKeyPrefix: values['api-key-prefix'] ?? env.FAKE_STRIPE_API_KEY_PREFIX ?? 'sk_test_',
    webhooks: {
      duplicate: optionalNumber(values.duplicate),
      order: values.order as 'in-order' | 'reverse' | 'shuffle' | undefined,
      delayMs: optionalNumber(values['delay-ms']),
      drop: optionalNumber(values.drop),
    },
    processingSettleMs: optionalNumber(values['processing-settle-ms']),
    log: !values.quiet,
  });
  console.log(`fake Stripe listening on ${fake.url}`);
  console.log(`  STRIPE_API_BASE=${fake.url}`);
  console.log(`  webhooks → ${fake.webhookUrl() ?? '(none; set with POST /_fake/webhook {"url": …})'}`);
  console.log(`  control API: ${fake.url}/_fake/health, /_fake/payment_intents, /_fake/deliveries, …`);

  const stop = (): void => {
    fake.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
