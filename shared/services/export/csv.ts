/**
 * RFC 4180 CSV with spreadsheet formula injection neutralised: a text cell starting with `=`, `+`, `-`,
 * `@`, tab or carriage return is prefixed with `'` so Excel/Sheets show it as text instead of running it
 * (OWASP "CSV injection"). Numbers are written as numbers and never prefixed.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export type Cell = string | number | null | undefined;

export function encodeCell(cell: Cell): string {
  if (cell === null || cell === undefined) return '';
  if (typeof cell === 'number') return Number.isFinite(cell) ? String(cell) : '';
  const text = FORMULA_START.test(cell) ? `'${cell}` : cell;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One record, CRLF-terminated as RFC 4180 says. */
export function encodeRow(cells: readonly Cell[]): string {
  let line = '';
  for (let i = 0; i < cells.length; i++) {
    if (i > 0) line += ',';
    line += encodeCell(cells[i]);
  }
  return line + '\r\n';
}
