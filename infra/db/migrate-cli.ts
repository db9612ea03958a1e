/** `npm run db:migrate`: applies pending migrations to the app and audit databases named by the settings. */
import { migrateAll } from '../../shared/db/migrate.js';
import { runCli } from './cli-run.js';

runCli(async () => {
  const applied = await migrateAll();
  console.log(`app: ${applied.app.length ? applied.app.join(', ') : 'up to date'}`);
  console.log(`audit: ${applied.audit.length ? applied.audit.join(', ') : 'up to date'}`);
});
