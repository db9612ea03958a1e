/**
 * Re-encrypts orders' shipping addresses under the first (newest) Fernet key, the order-side half of
 * `npm run pii:reencrypt` (users' PII is shared/services/auth/pii-reencrypt.ts). Same contract: per
 * tenant, keyset batches, one short transaction per batch, compare-and-set per row, safe to interrupt
 * and re-run; a token no configured key opens is counted and logged by order id and left as it is.
 */
import { InvalidFernetToken } from '../../crypto/fernet.js';
import type { FieldCipher } from '../../crypto/field-cipher.js';
import { silentLogger } from '../../logging/logger.js';
import type { ReencryptOptions, ReencryptProgress } from '../auth/pii-reencrypt.js';

interface AddressRow {
  id: string;
  shipping_address_enc: string;
}

function rotated(row: AddressRow, cipher: FieldCipher): string | null {
  return cipher.needsRotation(row.shipping_address_enc) ? cipher.rotate(row.shipping_address_enc) : null;
}

export async function reencryptOrderAddresses(options: ReencryptOptions): Promise<ReencryptProgress> {
  const { em, cipher } = options;
  const batchSize = options.batchSize ?? 500;
  const log = options.log ?? silentLogger;
  // The operator's whole-database view (row count, tenant list), as for users.
  const [{ count }] = (await em.execute<{ count: string }[]>(
    'select count(*) as count from orders where shipping_address_enc is not null',
  )) as [{ count: string }];
  const progress: ReencryptProgress = {
    rowsTotal: Number(count),
    rowsScanned: 0,
    rowsRotated: 0,
    rowsFailed: 0,
  };
  const tenants = await em.execute<{ id: string }[]>('select id from tenants order by id');
  for (const { id: tenantId } of tenants) {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows = await em.execute<AddressRow[]>(
        `select id, shipping_address_enc from orders
          where tenant_id = ? and id > ? and shipping_address_enc is not null order by id limit ?`,
        [tenantId, after, batchSize],
      );
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const rewrites: { row: AddressRow; token: string }[] = [];
      for (const row of rows) {
        try {
          const token = rotated(row, cipher);
          if (token !== null) rewrites.push({ row, token });
        } catch (error) {
          if (!(error instanceof InvalidFernetToken)) throw error;
          progress.rowsFailed += 1;
          log.error(
            `pii:reencrypt: order ${row.id} has an address no configured key can decrypt; left unchanged`,
          );
        }
      }
      if (rewrites.length > 0) {
        progress.rowsRotated += await em.transactional(async (tx) => {
          let applied = 0;
          for (const { row, token } of rewrites) {
            const updated = await tx.execute<{ id: string }[]>(
              `update orders set shipping_address_enc = ?
                where tenant_id = ? and id = ? and shipping_address_enc = ? returning id`,
              [token, tenantId, row.id, row.shipping_address_enc],
            );
            applied += updated.length;
          }
          return applied;
        });
      }
      progress.rowsScanned += rows.length;
      options.onProgress?.({ ...progress });
    }
  }
  return progress;
}
