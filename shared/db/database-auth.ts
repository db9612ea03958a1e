import pg from 'pg';
import type { AccessToken, TokenCredential } from '@azure/identity';

/**
 * How the app logs into PostgreSQL. `password`: the password in DATABASE_URL (local runs, tests).
 * `entra`: the Function App's managed identity, with a Microsoft Entra access token as the password
 * (Azure Database for PostgreSQL flexible server, "Connect with managed identity": the token for the
 * `https://ossrdbms-aad.database.windows.net/.default` scope is the password, the user is the principal
 * name the identity was registered under). Tokens live about an hour (24 h for managed identities on some
 * hosts); a connection only needs a valid one when it authenticates, so the token is fetched per new
 * connection from a cache that is refreshed REFRESH_BEFORE_MS before it expires.
 *
 * Every pool the app opens gets the password function: MikroORM accepts `password` as a function whose
 * result may carry an `expirationChecker` (knex then re-resolves the connection config for new
 * connections: @mikro-orm/knex AbstractSqlConnection.getKnexOptions), node-postgres accepts a function
 * (pg Client#_getPassword, called per connection). Pools built outside shared/db with only a connection
 * string (the audit sink) pick it up from `pg.defaults.password`, which node-postgres falls back to when a
 * config and PGPASSWORD have none (pg/lib/connection-parameters.js).
 */
export const POSTGRES_ENTRA_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';
export const REFRESH_BEFORE_MS = 5 * 60_000;

export type DatabaseAuth = 'password' | 'entra';

export interface TokenPassword {
  /** The node-postgres form: a string per new connection. */
  (): Promise<string>;
  /** The MikroORM form: the password and when knex must ask again. */
  forOrm(this: void): Promise<{ password: string; expirationChecker: () => boolean }>;
}

/** A cached token source: one request in flight at most, renewed before expiry, never served expired. */
export function tokenPassword(credential: TokenCredential, now: () => number = Date.now): TokenPassword {
  let current: AccessToken | undefined;
  let pending: Promise<AccessToken> | undefined;
  const fresh = (token: AccessToken | undefined): token is AccessToken =>
    token !== undefined && token.expiresOnTimestamp - now() > REFRESH_BEFORE_MS;

  const get = async (): Promise<AccessToken> => {
    if (fresh(current)) return current;
    pending ??= credential
      .getToken(POSTGRES_ENTRA_SCOPE)
      .then((token) => {
        if (!token) throw new Error('no access token for Azure Database for PostgreSQL');
        current = token;
        return token;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };

  const password = (async () => (await get()).token) as TokenPassword;
  password.forOrm = async () => {
    const token = await get();
    return { password: token.token, expirationChecker: () => !fresh(token) };
  };
  return password;
}

let shared: TokenPassword | undefined;

function managedIdentityPassword(): TokenPassword {
  if (!shared) {
    // Loaded only under Entra auth: nothing of @azure/identity runs locally or in tests.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ManagedIdentityCredential } = require('@azure/identity') as typeof import('@azure/identity');
    const clientId = process.env.AZURE_CLIENT_ID;
    shared = tokenPassword(new ManagedIdentityCredential(clientId ? { clientId } : {}));
  }
  return shared;
}

/**
 * The password function for `auth` (undefined for password auth: the URL's password stands), installed
 * as node-postgres' default as well so every pool of the process authenticates the same way.
 */
export function databasePassword(
  auth: DatabaseAuth,
  source: () => TokenPassword = managedIdentityPassword,
): TokenPassword | undefined {
  if (auth !== 'entra') return undefined;
  const password = source();
  (pg.defaults as { password?: unknown }).password = password;
  return password;
}

/**
 * DATABASE_AUTH as the process has it. Read from the environment rather than the full settings: the
 * migrate command runs with database settings only (settings.ts validates the same variable for the app).
 */
export function databaseAuth(): DatabaseAuth {
  return process.env.DATABASE_AUTH === 'entra' ? 'entra' : 'password';
}

/** The node-postgres pool option for this process's DATABASE_AUTH (empty under password auth). */
export function pgPasswordOption(): { password?: () => Promise<string> } {
  const password = databasePassword(databaseAuth());
  return password ? { password } : {};
}
