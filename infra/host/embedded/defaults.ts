import path from 'node:path';
import pg from 'pg';
import type { HostLogger } from '../types.js';
import { startAzurite, type EmbeddedAzurite } from './azurite.js';
import { isPlaceholder } from './local-settings.js';
import { embeddedDataDir, startEmbeddedPostgres, type EmbeddedPostgres } from './postgres.js';
import {
  applyLocalSecrets,
  LOCAL_SECRET_GENERATORS,
  LocalSecrets,
  STRIPE_SECRET_GENERATORS,
} from './secrets.js';
import { startLocalStripe, type EmbeddedStripe } from './stripe.js';

export const EMBEDDED_POSTGRES_PORT = 54329;

/** `EMBEDDED_POSTGRES_PORT` when it is a port number, else 54329. */
export function embeddedPostgresPort(env: NodeJS.ProcessEnv): number {
  const port = Number(env.EMBEDDED_POSTGRES_PORT);
  return Number.isInteger(port) && port > 0 && port < 65_536 ? port : EMBEDDED_POSTGRES_PORT;
}

export interface EmbeddedDefaultsOptions {
  root: string;
  env: NodeJS.ProcessEnv;
  logger: HostLogger;
  /** The host's origin, for the fake Stripe's webhook URL. */
  hostOrigin: string;
  routePrefix: string;
  postgresPort?: number;
}

export interface EmbeddedServices {
  /** One line per default applied, for the start-up banner. */
  notes: string[];
  postgres?: EmbeddedPostgres;
  azurite?: EmbeddedAzurite;
  stripe?: EmbeddedStripe;
  stop(): Promise<void>;
}

const absent = (env: NodeJS.ProcessEnv, name: string): boolean => !env[name] || isPlaceholder(env[name]);

/** The audit database next to the app database when only DATABASE_URL is given. */
async function siblingAuditUrl(databaseUrl: string, logger: HostLogger): Promise<string> {
  const url = new URL(databaseUrl);
  const name = `${url.pathname.replace(/^\//, '') || 'postgres'}_audit`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  try {
    await admin.connect();
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount === 0) await admin.query(`create database ${admin.escapeIdentifier(name)}`);
  } catch (error) {
    logger.warn(`Could not create audit database ${name}: ${(error as Error).message}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Fills in every absent setting with a local default, before any function module loads (modules read
 * settings at import). A present setting always wins: with real settings the host uses real services.
 */
export async function applyEmbeddedDefaults(options: EmbeddedDefaultsOptions): Promise<EmbeddedServices> {
  const { env, logger } = options;
  const localDir = path.join(options.root, '.local');
  const notes: string[] = [];
  const services: EmbeddedServices = {
    notes,
    async stop() {
      // Reverse order of start; each stop is independent so one failure does not leave the others up.
      const results = await Promise.allSettled([
        services.stripe?.stop(),
        services.azurite?.stop(),
        services.postgres?.stop(),
      ]);
      for (const r of results)
        if (r.status === 'rejected') logger.error(`Stopping a local service failed: ${String(r.reason)}`);
    },
  };
  const secrets = new LocalSecrets(localDir);

  try {
    if (!env.KEY_VAULT_URL) {
      const filled = applyLocalSecrets(env, secrets, LOCAL_SECRET_GENERATORS);
      if (filled.length > 0)
        notes.push(`Secrets ${filled.join(', ')}: generated once, kept in ${secrets.file}`);
    }

    const wantPostgres = absent(env, 'DATABASE_URL');
    const wantAzurite =
      absent(env, 'AzureWebJobsStorage') || /UseDevelopmentStorage=true/i.test(env.AzureWebJobsStorage ?? '');
    const [postgres, azurite] = await Promise.all([
      wantPostgres
        ? startEmbeddedPostgres({
            dataDir: embeddedDataDir(localDir),
            // EMBEDDED_POSTGRES_PORT when 54329 is taken (by another checkout's host, or a test).
            port: options.postgresPort ?? embeddedPostgresPort(env),
            password: secrets.get('EMBEDDED_POSTGRES_PASSWORD', () => LOCAL_SECRET_GENERATORS.ADMIN_TOKEN!()),
            databases: ['ecommerce', 'ecommerce_audit'],
            logger,
          })
        : undefined,
      wantAzurite
        ? startAzurite({ root: options.root, location: path.join(localDir, 'azurite'), logger })
        : undefined,
    ]);
    if (postgres) {
      services.postgres = postgres;
      env.DATABASE_URL = postgres.url('ecommerce');
      env.AUDIT_DATABASE_URL = postgres.url('ecommerce_audit');
      notes.push(`PostgreSQL: embedded on 127.0.0.1:${postgres.port}, data in ${postgres.dataDir}`);
    } else if (absent(env, 'AUDIT_DATABASE_URL')) {
      env.AUDIT_DATABASE_URL = await siblingAuditUrl(env.DATABASE_URL!, logger);
      notes.push('AUDIT_DATABASE_URL: the "_audit" database next to DATABASE_URL');
    }
    if (azurite) {
      services.azurite = azurite;
      env.AzureWebJobsStorage = azurite.connectionString;
      notes.push(`Blob storage: Azurite at ${azurite.blobEndpoint}`);
    }

    if (absent(env, 'REDIS_URL')) {
      env.REDIS_URL = 'memory://';
      notes.push('Redis: in-memory stand-in (single process only)');
      logger.warn(
        'REDIS_URL is not set: using an in-memory Redis stand-in. It is single-process only — rate limits and cache are not shared with any other instance.',
      );
    }

    if (absent(env, 'STRIPE_SECRET_KEY')) {
      const keys = { ...env };
      applyLocalSecrets(keys, secrets, STRIPE_SECRET_GENERATORS);
      const prefix = options.routePrefix ? `/${options.routePrefix}` : '';
      const webhookUrl = `${options.hostOrigin}${prefix}/webhooks/stripe`;
      const stripe = await startLocalStripe({ webhookUrl, webhookSecret: keys.STRIPE_WEBHOOK_SECRET! });
      env.STRIPE_SECRET_KEY = keys.STRIPE_SECRET_KEY;
      env.STRIPE_WEBHOOK_SECRET = keys.STRIPE_WEBHOOK_SECRET;
      if (stripe) {
        services.stripe = stripe;
        env.STRIPE_API_BASE = stripe.url;
        notes.push(`Stripe: fake Stripe at ${stripe.url}, webhooks to ${webhookUrl}`);
      } else {
        // Never let a generated key reach api.stripe.com: point the SDK at a closed loopback port.
        env.STRIPE_API_BASE ??= 'http://127.0.0.1:9';
        notes.push('Stripe: no STRIPE_SECRET_KEY and no fake Stripe built — payment attempts will fail');
        logger.warn(
          'STRIPE_SECRET_KEY is not set and infra/fake-stripe/server is not built: checkout payments will fail until one of them exists.',
        );
      }
    }
  } catch (error) {
    await services.stop();
    throw error;
  }
  return services;
}
