/**
 * `npm run pii:reencrypt [-- --batch-size 500]`: after a new key was put first in FERNET_KEYS, rewrites
 * every user's email/phone/address token and every order's shipping address token that is not under it. Progress on stderr; safe to interrupt
 * and re-run. Exit status 1 when some row could not be decrypted with any configured key (those rows are
 * listed by id in the log and left unchanged — do not drop the old key until they are dealt with).
 */
import { getOrm } from '../../shared/db/orm.js';
import type { Logger } from '../../shared/logging/logger.js';
import { reencryptUserPii, type ReencryptProgress } from '../../shared/services/auth/pii-reencrypt.js';
import { reencryptOrderAddresses } from '../../shared/services/orders/address-reencrypt.js';
import { getFieldCipher } from '../../shared/services/pii-cipher.js';
import { UsageError, flags, runCli } from './cli-run.js';

const USAGE = 'npm run pii:reencrypt [-- --batch-size <rows>]';

const stderrLogger: Logger = {
  debug: () => undefined,
  info: (...args) => console.error(...args),
  warn: (...args) => console.error(...args),
  error: (...args) => console.error(...args),
};

runCli(async () => {
  const args = flags({ 'batch-size': { type: 'string' } }, USAGE);
  const batchSize = Number(args['batch-size'] ?? '500');
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new UsageError(`--batch-size must be 1–10000\nusage: ${USAGE}`);
  }
  const started = Date.now();
  const em = (await getOrm()).em.fork({ clear: true });
  const cipher = await getFieldCipher();
  const progressLine =
    (what: string) =>
    (p: ReencryptProgress): void => {
      const seconds = (Date.now() - started) / 1000;
      const rate = p.rowsScanned / Math.max(seconds, 0.001);
      const eta = rate > 0 ? Math.max(0, (p.rowsTotal - p.rowsScanned) / rate) : 0;
      process.stderr.write(
        `\r${what}: scanned ${p.rowsScanned}/${p.rowsTotal}, re-encrypted ${p.rowsRotated}, failed ${p.rowsFailed}, ETA ${eta.toFixed(0)}s   `,
      );
    };
  const users = await reencryptUserPii({
    em,
    cipher,
    batchSize,
    log: stderrLogger,
    onProgress: progressLine('users'),
  });
  process.stderr.write('\n');
  const orders = await reencryptOrderAddresses({
    em,
    cipher,
    batchSize,
    log: stderrLogger,
    onProgress: progressLine('order addresses'),
  });
  const report = { users, orders, rowsFailed: users.rowsFailed + orders.rowsFailed };
  process.stderr.write('\n');
  console.log(JSON.stringify(report));
  if (report.rowsFailed > 0) process.exitCode = 1;
});
