import { FieldCipher } from '../crypto/field-cipher.js';
import { getSecret } from '../secrets/provider.js';

let current: { keys: string; cipher: FieldCipher } | undefined;

/** The PII cipher under the current FERNET_KEYS; rebuilt when the secret rotates. */
export async function getFieldCipher(): Promise<FieldCipher> {
  const keys = await getSecret('FERNET_KEYS');
  if (current?.keys !== keys) current = { keys, cipher: new FieldCipher(keys) };
  return current.cipher;
}
