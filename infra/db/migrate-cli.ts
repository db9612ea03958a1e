/**
 * `npm run db:migrate`: applies pending migrations to the app and audit databases.
 *
 * Needs database settings only (DATABASE_URL, AUDIT_DATABASE_URL, DATABASE_AUTH, PGSSL*): the deploy
 * workflow runs it with exactly those, so nothing else the app needs (Redis, secrets) may be required here.
 *
 * With `--owner-role O --app-role A --audit-role U [--grant-app-to LOGIN …] [--grant-audit-to LOGIN …]`
 * it also sets up least privilege (infra/db/roles.ts): creates the roles if missing, hands existing
 * objects to O, migrates as O, then grants A DML on the app database and U INSERT/SELECT on audit_log,
 * and makes the logins members of A or U.
 */
import { ConfigurationError, settingsSchema } from '../../shared/config/index.js';
import { migrateAll } from '../../shared/db/migrate.js';
import { checkRoleNames, migrateWithRoles, type DatabaseRoles, type RoleMembers } from './roles.js';
import { flags, runCli, UsageError } from './cli-run.js';

const USAGE =
  'migrate-cli [--owner-role <role> --app-role <role> --audit-role <role> ' +
  '[--grant-app-to <login> …] [--grant-audit-to <login> …]]';

/** The database part of the settings, validated by the app's own rules for those variables. */
export function databaseSettings(env: NodeJS.ProcessEnv): { app: string; audit: string } {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = settingsSchema
    .pick({ DATABASE_URL: true, AUDIT_DATABASE_URL: true, DATABASE_AUTH: true })
    .safeParse(present);
  if (!result.success) {
    throw new ConfigurationError(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  return { app: result.data.DATABASE_URL, audit: result.data.AUDIT_DATABASE_URL };
}

function roleFlags(values: Record<string, string | string[] | boolean | undefined>): {
  roles?: DatabaseRoles;
  members: RoleMembers;
} {
  const owner = values['owner-role'] as string | undefined;
  const app = values['app-role'] as string | undefined;
  const audit = values['audit-role'] as string | undefined;
  const members = {
    app: (values['grant-app-to'] as string[] | undefined) ?? [],
    audit: (values['grant-audit-to'] as string[] | undefined) ?? [],
  };
  if (!owner && !app && !audit) {
    if (members.app.length + members.audit.length > 0) {
      throw new UsageError(`--grant-*-to needs the role flags\nusage: ${USAGE}`);
    }
    return { members };
  }
  if (!owner || !app || !audit) throw new UsageError(`give all three role flags\nusage: ${USAGE}`);
  const roles = { owner, app, audit };
  checkRoleNames(roles, members);
  return { roles, members };
}

if (require.main === module) {
  runCli(async () => {
    const values = flags(
      {
        'owner-role': { type: 'string' },
        'app-role': { type: 'string' },
        'audit-role': { type: 'string' },
        'grant-app-to': { type: 'string', multiple: true },
        'grant-audit-to': { type: 'string', multiple: true },
      },
      USAGE,
    );
    const { roles, members } = roleFlags(values);
    const urls = databaseSettings(process.env);
    const applied = roles ? await migrateWithRoles(urls, roles, members) : await migrateAll(urls);
    console.log(`app: ${applied.app.length ? applied.app.join(', ') : 'up to date'}`);
    console.log(`audit: ${applied.audit.length ? applied.audit.join(', ') : 'up to date'}`);
    if (roles) console.log(`roles: owner ${roles.owner}, app ${roles.app}, audit ${roles.audit}`);
  });
}
