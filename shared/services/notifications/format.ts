/** ISO 4217 minor-unit exponents other than 2 (the common case); enough for the currencies we sell in. */
const EXPONENTS: Record<string, number> = {
  JPY: 0,
  KRW: 0,
  VND: 0,
  CLP: 0,
  ISK: 0,
  BHD: 3,
  KWD: 3,
  JOD: 3,
  OMR: 3,
  TND: 3,
};

/** Integer minor units as a plain amount with its code, e.g. 1299 USD → "12.99 USD". */
export function formatMoney(minor: number, currency: string): string {
  const code = currency.trim().toUpperCase();
  const exponent = EXPONENTS[code] ?? 2;
  const sign = minor < 0 ? '-' : '';
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  const amount = exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
  return `${sign}${amount} ${code}`;
}
