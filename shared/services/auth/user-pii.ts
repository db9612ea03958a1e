import { emailBlindIndex } from '../../crypto/blind-index.js';
import type { FieldCipher } from '../../crypto/field-cipher.js';

export interface PlainPii {
  email: string;
  phone?: string | null | undefined;
  address?: string | null | undefined;
}

export interface EncryptedPii {
  emailEnc: string;
  emailBidx: string;
  phoneEnc: string | null;
  addressEnc: string | null;
}

/**
 * The PII columns of a user row: each field Fernet-encrypted exactly as given (what the user typed is
 * what they get back), plus the keyed blind index of the normalised email for lookup and uniqueness.
 */
export function encryptPii(pii: PlainPii, cipher: FieldCipher, emailIndexKey: Buffer): EncryptedPii {
  return {
    emailEnc: cipher.encrypt(pii.email),
    emailBidx: emailBlindIndex(emailIndexKey, pii.email),
    phoneEnc: cipher.encrypt(pii.phone ?? null),
    addressEnc: cipher.encrypt(pii.address ?? null),
  };
}
