import { MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH } from '../crypto/password-hasher.js';
import { Uuid } from './common.js';
import { z } from './zod.js';

/**
 * Text we store as given. PostgreSQL cannot hold U+0000 in `text`, and a lone UTF-16 surrogate cannot be
 * encoded as UTF-8 (it would come back as U+FFFD) — both are refused up front so "stored verbatim" holds
 * and neither can turn into a 500.
 */
function storableText<T extends z.ZodType<string>>(schema: T): T {
  return schema
    .refine((value) => !value.includes('\u0000'), 'must not contain NUL characters')
    .refine((value) => !/\p{Cs}/u.test(value), 'must be valid Unicode text');
}

const utf8Bytes = (value: string): number => Buffer.byteLength(value, 'utf8');
const codePoints = (value: string): number => [...value].length;

// `unicodeEmail`: internationalised addresses are legitimate; uniqueness goes through the normalised
// blind index, so `ｕｓｅｒ@…` (full-width) and `user@…` are one account.
export const Email = storableText(
  z.email({ pattern: z.regexes.unicodeEmail, message: 'must be an email address' }).max(254),
).openapi({ example: 'jane@example.com' });

/** New passwords: ≥ 12 characters (code points), ≤ 72 UTF-8 bytes (bcrypt ignores the rest; we refuse). */
export const NewPassword = z
  .string()
  .refine((value) => codePoints(value) >= MIN_PASSWORD_LENGTH, {
    message: `must be at least ${MIN_PASSWORD_LENGTH} characters`,
    abort: true,
  })
  .refine((value) => utf8Bytes(value) <= MAX_PASSWORD_BYTES, {
    message: `must be at most ${MAX_PASSWORD_BYTES} bytes in UTF-8 (fewer characters if they are not ASCII)`,
  })
  .openapi({
    description: `At least ${MIN_PASSWORD_LENGTH} characters and at most ${MAX_PASSWORD_BYTES} bytes of UTF-8.`,
    example: 'correct horse battery staple',
  });

/** A password being checked: no minimum (older accounts may predate the rule), same byte ceiling. */
const CurrentPassword = z
  .string()
  .min(1, 'is required')
  .refine((value) => utf8Bytes(value) <= MAX_PASSWORD_BYTES, {
    message: `must be at most ${MAX_PASSWORD_BYTES} bytes in UTF-8`,
  });

const Name = storableText(z.string().min(1).max(200))
  .refine((value) => value.trim().length > 0, 'must not be blank')
  .openapi({ example: 'Jane Doe' });

const Phone = z
  .string()
  .regex(/^\+?[0-9][0-9 ().-]{2,31}$/, 'must be a phone number (digits, spaces, + - . ( ))')
  .openapi({ example: '+44 20 7946 0958' });

const Address = storableText(z.string().min(1).max(500)).openapi({
  example: '1 Main Street, Springfield',
});

export const RegisterBody = z
  .strictObject({
    email: Email,
    password: NewPassword,
    name: Name,
    phone: Phone.optional(),
    address: Address.optional(),
  })
  .openapi('RegisterRequest');

export const RegisteredUser = z
  .object({ id: Uuid, email: z.string(), name: z.string() })
  .openapi('RegisteredUser');

export const LoginBody = z
  .strictObject({ email: z.string().min(1).max(254), password: CurrentPassword })
  .openapi('LoginRequest');

/** 43 base64url characters (256 random bits); the bound only keeps absurd inputs out. */
const RefreshTokenValue = z.string().min(1).max(256).openapi({ description: 'Opaque refresh token.' });

export const RefreshBody = z.strictObject({ refreshToken: RefreshTokenValue }).openapi('RefreshRequest');

export const TokenPair = z
  .object({
    accessToken: z.string().openapi({ description: 'JWT (HS256), valid for `expiresIn` seconds.' }),
    refreshToken: z.string().openapi({ description: 'Opaque, valid 7 days, single use (rotated).' }),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().openapi({ example: 900 }),
  })
  .openapi('TokenPair');

export const Profile = z
  .object({
    id: Uuid,
    email: z.string(),
    name: z.string(),
    phone: z.string().nullable(),
    address: z.string().nullable(),
    roles: z.array(z.enum(['customer', 'admin'])),
    createdAt: z.iso.datetime(),
  })
  .openapi('Profile', { description: 'The caller’s own profile; PII decrypted for its owner only.' });

export const ChangePasswordBody = z
  .strictObject({ currentPassword: CurrentPassword, newPassword: NewPassword })
  .openapi('ChangePasswordRequest');

export const TenantHeader = z.object({
  'X-Tenant-ID': Uuid.openapi({ description: 'The shop (tenant) the refresh token belongs to.' }),
});

export type RegisterInput = z.infer<typeof RegisterBody>;
export type TokenPairBody = z.infer<typeof TokenPair>;
export type ProfileBody = z.infer<typeof Profile>;
