/**
 * How many minor units a currency has (2 for USD, 0 for JPY). An unknown code — the admin may still be
 * typing it — counts as 2: the API, not the console, decides whether the code is valid.
 */
export function fractionDigits(currency: string): number {
  try {
    return (
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2
    );
  } catch {
    return 2;
  }
}

/** Money in integer minor units, shown in the shop's currency. */
export function money(cents: number, currency: string | null | undefined): string {
  const code = currency ?? 'USD';
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: code }).format(
      cents / 10 ** fractionDigits(code),
    );
  } catch {
    return `${cents} ${code} (minor units)`;
  }
}

/** Minor units from what the admin typed in major units ("12.5" USD → 1250). */
export function toMinorUnits(text: string, currency: string): number | undefined {
  if (!/^\d+([.,]\d+)?$/.test(text.trim())) return undefined;
  return Math.round(Number(text.trim().replace(',', '.')) * 10 ** fractionDigits(currency));
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString('en-GB', { timeZone: 'UTC' }) + ' UTC';
}

/** A date input's value (yyyy-mm-dd) as the start of that day, or the start of the next one, in UTC. */
export function dayStart(value: string, nextDay = false): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  const date = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return undefined;
  if (nextDay) date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString();
}

/** A fresh key per attempt (RFC 4122 v4 from the browser's CSPRNG). */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}
