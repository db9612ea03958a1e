/**
 * Re-encrypts users' PII under the first (newest) Fernet key, so an old key can be dropped from
 * FERNET_KEYS. Runs per tenant, in keyset batches of `batchSize` rows, one short transaction per batch,
 * and may be interrupted and re-run at any time: rows already under the first key are skipped.
 *
 * A row is rewritten only if it still holds the tokens that were read (compare-and-set), so a user who
 * changes their phone number while the job runs keeps the new number — it was written under the first
 * key anyway. A token no configured key opens is counted and logged by row id (never its content) and
 * left as it is: dropping the old key would make it unreadable, which the operator must decide.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidFernetToken } from '../../crypto/fernet.js';
import type { FieldCipher } from '../../crypto/field-cipher.js';
import { silentLogger, type Logger } from '../../logging/logger.js';

export interface ReencryptProgress {
  rowsTotal: number;
  rowsScanned: number;
  rowsRotated: number;
  rowsFailed: number;
}

export interface ReencryptOptions {
  em: EntityManager;
  cipher: FieldCipher;
  batchSize?: number;
  log?: Logger;
  onProgress?: (progress: ReencryptProgress) => void;
}

interface PiiRow {
  id: string;
  email_enc: string;
  phone_enc: string | null;
  address_enc: string | null;
}

interface Rewrite {
  row: PiiRow;
  email: string;
  phone: string | null;
  address: string | null;
}

const PII_COLUMNS = ['email_enc', 'phone_enc', 'address_enc'] as const;

/** The row's tokens under the first key, or null when none needs it. @throws InvalidFernetToken */
function rewriteOf(row: PiiRow, cipher: FieldCipher): Rewrite | null {
  if (!PII_COLUMNS.some((column) => cipher.needsRotation(row[column]))) return null;
  const rotate = (token: string | null): string | null =>
    token !== null && cipher.needsRotation(token) ? cipher.rotate(token) : token;
  return {
    row,
    email: rotate(row.email_enc)!,
    phone: rotate(row.phone_enc),
    address: rotate(row.address_enc),
  };
}

export async function reencryptUserPii(options: ReencryptOptions): Promise<ReencryptProgress> {
  const { em, cipher } = options;
  const batchSize = options.batchSize ?? 500;
  const log = options.log ?? silentLogger;
  // The only statements that span tenants: the operator's whole-database view (tenant list, row count).
  const [{ count }] = (await em.execute<{ count: string }[]>('select count(*) as count from users')) as [
    { count: string },
  ];
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
      const rows = await em.execute<PiiRow[]>(
        `select id, email_enc, phone_enc, address_enc from users
          where tenant_id = ? and id > ? order by id limit ?`,
        [tenantId, after, batchSize],
      );
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const rewrites: Rewrite[] = [];
      for (const row of rows) {
        try {
          const rewrite = rewriteOf(row, cipher);
          if (rewrite) rewrites.push(rewrite);
        } catch (error) {
          if (!(error instanceof InvalidFernetToken)) throw error;
          progress.rowsFailed += 1;
          log.error(`pii:reencrypt: user ${row.id} has PII no configured key can decrypt; left unchanged`);
        }
      }
      if (rewrites.length > 0) progress.rowsRotated += await applyRewrites(em, tenantId, rewrites);
      progress.rowsScanned += rows.length;
      options.onProgress?.({ ...progress });
    }
  }
  return progress;
}

async function applyRewrites(em: EntityManager, tenantId: string, rewrites: Rewrite[]): Promise<number> {
  return em.transactional(async (tx) => {
    let applied = 0;
    for (const { row, email, phone, address } of rewrites) {
      const updated = await tx.execute<{ id: string }[]>(
        `update users set email_enc = ?, phone_enc = ?, address_enc = ?
          where tenant_id = ? and id = ?
            and email_enc = ? and phone_enc is not distinct from ? and address_enc is not distinct from ?
          returning id`,
        [email, phone, address, tenantId, row.id, row.email_enc, row.phone_enc, row.address_enc],
      );
      applied += updated.length;
    }
    return applied;
  });
}
