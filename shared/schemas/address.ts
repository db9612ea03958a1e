import { z } from './zod.js';

/**
 * The 249 officially assigned ISO 3166-1 alpha-2 codes (ISO 3166 Maintenance Agency, Online Browsing
 * Platform, https://www.iso.org/obp/ui/#search/code/). Reserved and withdrawn codes (UK, EU, SU, YU, XK,
 * …) are not addresses a carrier delivers to, so they are refused. tests/unit/address.test.ts checks
 * the list against the runtime's CLDR region names.
 */
export const ISO_3166_ALPHA2: ReadonlySet<string> = new Set([
  'AD', 'AE', 'AF', 'AG', 'AI', 'AL', 'AM', 'AO', 'AQ', 'AR', 'AS', 'AT', 'AU', 'AW', 'AX', 'AZ',
  'BA', 'BB', 'BD', 'BE', 'BF', 'BG', 'BH', 'BI', 'BJ', 'BL', 'BM', 'BN', 'BO', 'BQ', 'BR', 'BS',
  'BT', 'BV', 'BW', 'BY', 'BZ', 'CA', 'CC', 'CD', 'CF', 'CG', 'CH', 'CI', 'CK', 'CL', 'CM', 'CN',
  'CO', 'CR', 'CU', 'CV', 'CW', 'CX', 'CY', 'CZ', 'DE', 'DJ', 'DK', 'DM', 'DO', 'DZ', 'EC', 'EE',
  'EG', 'EH', 'ER', 'ES', 'ET', 'FI', 'FJ', 'FK', 'FM', 'FO', 'FR', 'GA', 'GB', 'GD', 'GE', 'GF',
  'GG', 'GH', 'GI', 'GL', 'GM', 'GN', 'GP', 'GQ', 'GR', 'GS', 'GT', 'GU', 'GW', 'GY', 'HK', 'HM',
  'HN', 'HR', 'HT', 'HU', 'ID', 'IE', 'IL', 'IM', 'IN', 'IO', 'IQ', 'IR', 'IS', 'IT', 'JE', 'JM',
  'JO', 'JP', 'KE', 'KG', 'KH', 'KI', 'KM', 'KN', 'KP', 'KR', 'KW', 'KY', 'KZ', 'LA', 'LB', 'LC',
  'LI', 'LK', 'LR', 'LS', 'LT', 'LU', 'LV', 'LY', 'MA', 'MC', 'MD', 'ME', 'MF', 'MG', 'MH', 'MK',
  'ML', 'MM', 'MN', 'MO', 'MP', 'MQ', 'MR', 'MS', 'MT', 'MU', 'MV', 'MW', 'MX', 'MY', 'MZ', 'NA',
  'NC', 'NE', 'NF', 'NG', 'NI', 'NL', 'NO', 'NP', 'NR', 'NU', 'NZ', 'OM', 'PA', 'PE', 'PF', 'PG',
  'PH', 'PK', 'PL', 'PM', 'PN', 'PR', 'PS', 'PT', 'PW', 'PY', 'QA', 'RE', 'RO', 'RS', 'RU', 'RW',
  'SA', 'SB', 'SC', 'SD', 'SE', 'SG', 'SH', 'SI', 'SJ', 'SK', 'SL', 'SM', 'SN', 'SO', 'SR', 'SS',
  'ST', 'SV', 'SX', 'SY', 'SZ', 'TC', 'TD', 'TF', 'TG', 'TH', 'TJ', 'TK', 'TL', 'TM', 'TN', 'TO',
  'TR', 'TT', 'TV', 'TW', 'TZ', 'UA', 'UG', 'UM', 'US', 'UY', 'UZ', 'VA', 'VC', 'VE', 'VG', 'VI',
  'VN', 'VU', 'WF', 'WS', 'YE', 'YT', 'ZA', 'ZM', 'ZW',
]);

/**
 * C0/C1 controls, line and paragraph separators and bidirectional overrides: none belongs in an address
 * line, and they corrupt labels, CSV exports and emails (or disguise what a line says).
 */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** A printable line of 1…max characters with something besides spaces; stored exactly as given. */
export function addressLine(max: number): z.ZodString {
  return z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !FORBIDDEN.test(value), 'must not contain control characters')
    .refine((value) => value.trim().length > 0, 'must not be blank');
}

export const ShippingAddress = z
  .object({
    name: addressLine(200),
    line1: addressLine(200),
    line2: addressLine(200).optional(),
    city: addressLine(100),
    region: addressLine(100).optional(),
    postalCode: addressLine(20),
    country: z
      .string()
      .refine((value) => ISO_3166_ALPHA2.has(value), 'must be an ISO 3166-1 alpha-2 country code such as DE')
      .openapi({ example: 'DE', description: 'ISO 3166-1 alpha-2, upper case.' }),
    phone: z
      .string()
      .regex(/^\+?[0-9 ()./-]{4,32}$/, 'must be a phone number: digits, spaces and + ( ) . / -')
      .optional(),
  })
  .strict()
  .openapi('ShippingAddress', { description: 'Where the order ships. PII: encrypted at rest.' });

export type ShippingAddressValue = z.infer<typeof ShippingAddress>;

const ADDRESS_KEYS = ['name', 'line1', 'line2', 'city', 'region', 'postalCode', 'country', 'phone'] as const;

/** The address as JSON text with its keys in one fixed order: what is encrypted, and hashed. */
export function canonicalAddressJson(address: ShippingAddressValue): string {
  const ordered: Record<string, string> = {};
  for (const key of ADDRESS_KEYS) {
    const value = address[key];
    if (value !== undefined) ordered[key] = value;
  }
  return JSON.stringify(ordered);
}
