/**
 * `npm run db:seed`: the local sample data (tenant `demo`, a customer, an admin, five products), then
 * its ids and credentials. Idempotent. Local only: refuses when APP_ENV is azure.
 */
import { seedSampleData } from '../seed/sample-data.js';
import { runCli } from './cli-run.js';

runCli(async () => {
  const data = await seedSampleData();
  console.log(`tenant   ${data.tenantSlug}  X-Tenant-ID: ${data.tenantId}`);
  console.log(`customer ${data.customer.email} / ${data.customer.password}  (id ${data.customer.id})`);
  console.log(`admin    ${data.admin.email} / ${data.admin.password}  (id ${data.admin.id})`);
  if (data.adminToken) console.log(`admin token (X-Admin-Token): ${data.adminToken}`);
  console.error(
    `tenant ${data.created.tenant ? 'created' : 'existed'}, customer ${data.created.customer}, ` +
      `admin ${data.created.admin}, ${data.created.products} products added`,
  );
});
