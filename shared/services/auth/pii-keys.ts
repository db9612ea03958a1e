import { parseBlindIndexKey } from '../../crypto/blind-index.js';
import { getSecret } from '../../secrets/provider.js';

let current: { secret: string; key: Buffer } | undefined;

/**
 * The email blind-index key (BLIND_INDEX_KEY), decoded once per secret value. Unlike the Fernet keys it
 * cannot simply be rotated: every stored index would have to be recomputed from the decrypted emails.
 */
export async function getEmailIndexKey(): Promise<Buffer> {
  const secret = await getSecret('BLIND_INDEX_KEY');
  if (current?.secret !== secret) current = { secret, key: parseBlindIndexKey(secret) };
  return current.key;
}
