/**
 * `npm run tenant:create -- --slug <slug> --name <name>`: creates the tenant, or finds the one with this
 * slug. Prints only the tenant id on stdout (scriptable: `TENANT=$(npm run -s tenant:create -- …)`).
 * Uses the app's settings (DATABASE_URL …).
 */
import { runUnitOfWork } from '../../shared/db/unit-of-work.js';
import { ensureTenant } from '../../shared/services/auth/tenant-bootstrap.js';
import { flags, required, runCli } from './cli-run.js';

const USAGE = 'npm run tenant:create -- --slug <slug> --name <name>';

runCli(async () => {
  const args = flags({ slug: { type: 'string' }, name: { type: 'string' } }, USAGE);
  const slug = required(args.slug, 'slug', USAGE);
  const name = required(args.name, 'name', USAGE);
  const tenant = await runUnitOfWork('write', (em) => ensureTenant(em, slug, name));
  console.error(tenant.created ? `created tenant ${tenant.slug}` : `tenant ${tenant.slug} already exists`);
  console.log(tenant.id);
});
