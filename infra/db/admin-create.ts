/**
 * `npm run admin:create -- --tenant <slug or id> --email <e> --password <p> [--name <n>]`: makes sure the
 * account exists with the admin role and this password (idempotent: a second run changes nothing; a
 * different password resets it and ends the account's sessions). `--password-stdin` reads the password
 * from standard input instead, keeping it out of shell history and the process list.
 * Admin endpoints also need the X-Admin-Token header: that is the ADMIN_TOKEN setting / Key Vault secret.
 */
import { silentLogger } from '../../shared/logging/logger.js';
import { runUnitOfWork } from '../../shared/db/unit-of-work.js';
import { ensureAccount } from '../../shared/services/auth/account-bootstrap.js';
import { getPasswordHasher } from '../../shared/services/auth/passwords.js';
import { getEmailIndexKey } from '../../shared/services/auth/pii-keys.js';
import { findTenant } from '../../shared/services/auth/tenant-bootstrap.js';
import { getFieldCipher } from '../../shared/services/pii-cipher.js';
import { Email } from '../../shared/schemas/auth.js';
import { UsageError, flags, required, runCli } from './cli-run.js';

const USAGE =
  'npm run admin:create -- --tenant <slug or id> --email <email> (--password <password> | --password-stdin) [--name <name>]';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

runCli(async () => {
  const args = flags(
    {
      tenant: { type: 'string' },
      email: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      name: { type: 'string' },
    },
    USAGE,
  );
  const tenantRef = required(args.tenant, 'tenant', USAGE);
  const email = required(args.email, 'email', USAGE);
  if (!Email.safeParse(email).success)
    throw new UsageError(`--email is not an email address\nusage: ${USAGE}`);
  const password = args['password-stdin'] ? await readStdin() : required(args.password, 'password', USAGE);
  const [cipher, emailIndexKey] = await Promise.all([getFieldCipher(), getEmailIndexKey()]);
  const result = await runUnitOfWork('write', async (em) => {
    const tenant = await findTenant(em, tenantRef);
    if (!tenant) throw new UsageError(`no tenant ${tenantRef}; create it with npm run tenant:create`);
    const account = await ensureAccount(
      { em, tenantId: tenant.id, log: silentLogger, correlationId: 'admin-create' },
      { hasher: getPasswordHasher(), cipher, emailIndexKey },
      { email, password, name: args.name ?? 'Administrator', roles: ['admin'] },
    );
    return { tenant, account };
  });
  console.error(`admin ${result.account.outcome} in tenant ${result.tenant.slug}`);
  console.log(result.account.id);
});
