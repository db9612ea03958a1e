import { z } from 'zod';

/**
 * Every app setting the code reads, in one schema. The Bicep app settings and
 * local.settings.example.json are checked against `SETTING_NAMES` by tests, so adding a setting here
 * without providing it in Azure fails the build.
 */
const intFromString = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

export const settingsSchema = z.object({
  /** `azure` when running in a Function App; `local` under the local host; `test` in vitest. */
  APP_ENV: z.enum(['azure', 'local', 'test']).default('azure'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  AUDIT_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  DATABASE_POOL_MAX: intFromString(10, 1, 200),
  /**
   * `password`: the password in the URLs. `entra`: the managed identity's Entra access token is the
   * password (the URLs then name the principal and no password; shared/db/database-auth.ts).
   */
  DATABASE_AUTH: z.enum(['password', 'entra']).default('password'),
  /** statement_timeout of the request pools (ORM, read pool, audit): a slower statement is cancelled → 503. */
  DATABASE_STATEMENT_TIMEOUT_MS: intFromString(5_000, 100, 600_000),
  /** statement_timeout of the export stream pool: an export's read is one long statement. */
  EXPORT_STATEMENT_TIMEOUT_MS: intFromString(1_800_000, 1_000, 86_400_000),
  /** `redis://…`/`rediss://…`, or `memory://` for the local host's single-process stand-in. */
  REDIS_URL: z.string().regex(/^(rediss?|memory):\/\//, 'must be a redis://, rediss:// or memory:// URL'),
  /**
   * Redis for rate-limit counters (`noeviction`, ADR 0021); absent = REDIS_URL. Never `memory://`: the
   * stand-in is selected by REDIS_URL alone.
   */
  RATE_LIMIT_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  /** Prefix for every Redis key (tests use one per run). */
  REDIS_KEY_PREFIX: z.string().default(''),
  KEY_VAULT_URL: z.url().optional(),
  /** Seconds a secret read from Key Vault is reused before it is read again (rotation pick-up). */
  SECRET_CACHE_TTL_SECONDS: intFromString(300, 0, 86_400),
  APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().min(1).optional(),
  /** Storage connection string (Azurite locally); in Azure the identity-based form below is used. */
  AzureWebJobsStorage: z.string().min(1).optional(),
  AzureWebJobsStorage__accountName: z.string().min(3).optional(),
  AzureWebJobsStorage__blobServiceUri: z.url().optional(),
  ServiceBusConnection: z.string().min(1).optional(),
  ServiceBusConnection__fullyQualifiedNamespace: z.string().min(1).optional(),
  /** Proxies in front of the app whose X-Forwarded-For entries we trust (like Express `trust proxy`). */
  TRUSTED_PROXY_HOPS: intFromString(0, 0, 10),
  JWT_ISSUER: z.string().min(1).default('ecommerce-api'),
  JWT_AUDIENCE: z.string().min(1).default('ecommerce-api-clients'),
  /** Base URL of a Stripe-compatible API (the local fake Stripe); absent = api.stripe.com. */
  STRIPE_API_BASE: z.url().optional(),
  CHECKOUT_PAYMENT_TIMEOUT_SECONDS: intFromString(900, 1, 86_400),
  RESERVATION_TTL_SECONDS: intFromString(1200, 5, 86_400),
  /** Open unpaid orders one customer may have at once (services/checkout/fair-stock.ts). */
  FAIR_STOCK_MAX_OPEN_ORDERS: intFromString(3, 1, 100),
  /** Units of one product across one customer's open unpaid orders, this checkout included. */
  FAIR_STOCK_MAX_UNITS_PER_PRODUCT: intFromString(20, 1, 100_000),
  /** Lines one cart may hold. */
  CART_MAX_LINES: intFromString(50, 1, 1_000),
  EXPORT_QUEUE_NAME: z.string().min(1).default('order-exports'),
  ORDER_EVENTS_QUEUE_NAME: z.string().min(1).default('order-events'),
  EXPORT_CONTAINER: z.string().min(3).default('exports'),
  EXPORT_LINK_TTL_SECONDS: intFromString(900, 60, 86_400),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Azure Communication Services endpoint for customer emails (managed identity); unset = `.eml` files. */
  COMMUNICATION_SERVICES_ENDPOINT: z.url().optional(),
  /** The From address of customer emails (in Azure: the ACS email domain's MailFrom). */
  EMAIL_SENDER_ADDRESS: z.email().default('DoNotReply@shop.localhost'),
  /** Where emails land as `.eml` files when no ACS endpoint is set (local host, tests). */
  LOCAL_MAIL_DIR: z.string().min(1).default('.local/mail'),
});

export type Settings = z.infer<typeof settingsSchema>;

/**
 * Time the checkout orchestration may spend on retries around the payment window: three rounds of its
 * transient retry policy (create intent, confirm, the first compensation round), 3.75 s of back-off
 * each (functions/checkout/orchestrator.ts transientRetry) plus the calls themselves, rounded up.
 */
export const CHECKOUT_RETRY_BUDGET_SECONDS = 30;

/** Cross-field rules: the single-process Redis stand-in would give each Azure instance its own limits. */
export const settingsRules = settingsSchema
  .refine((s) => s.APP_ENV !== 'azure' || !s.REDIS_URL.startsWith('memory://'), {
    message: 'memory:// is only for the local host and tests',
    path: ['REDIS_URL'],
  })
  // A reservation that can expire while the orchestration still waits for the payment hands the
  // order to the sweeper while the customer may still pay.
  .superRefine((s, ctx) => {
    if (s.RESERVATION_TTL_SECONDS > s.CHECKOUT_PAYMENT_TIMEOUT_SECONDS + CHECKOUT_RETRY_BUDGET_SECONDS)
      return;
    ctx.addIssue({
      code: 'custom',
      path: ['RESERVATION_TTL_SECONDS'],
      message:
        `RESERVATION_TTL_SECONDS (${s.RESERVATION_TTL_SECONDS}) must exceed CHECKOUT_PAYMENT_TIMEOUT_SECONDS ` +
        `(${s.CHECKOUT_PAYMENT_TIMEOUT_SECONDS}) plus the checkout retry budget (${CHECKOUT_RETRY_BUDGET_SECONDS} s): ` +
        'the reservation must outlive the payment window',
    });
  });

/**
 * Secrets: read through the secret provider (Key Vault when KEY_VAULT_URL is set, else the app setting of
 * the same name). The value is the Key Vault secret name.
 */
export const SECRET_NAMES = {
  ADMIN_TOKEN: 'admin-token',
  STRIPE_SECRET_KEY: 'stripe-secret-key',
  STRIPE_WEBHOOK_SECRET: 'stripe-webhook-secret',
  /** Comma-separated `kid:base64url-secret` pairs; the first signs, all verify. */
  JWT_SIGNING_KEYS: 'jwt-signing-keys',
  /** Comma-separated Fernet keys; the first encrypts, all decrypt. */
  FERNET_KEYS: 'fernet-keys',
  /** base64url HMAC key of the email blind index. */
  BLIND_INDEX_KEY: 'blind-index-key',
  /** Comma-separated `kid:base64url` HMAC keys of list cursors; the first signs, all verify. */
  CURSOR_SIGNING_KEYS: 'cursor-signing-keys',
} as const;

export type SecretName = keyof typeof SECRET_NAMES;

export const SETTING_NAMES = Object.keys(settingsSchema.shape) as (keyof Settings)[];
