/**
 * An error as something safe to log: its class and, for driver errors, its code (SQLSTATE, errno) —
 * never its message, which for database errors can carry statement text and values (PII).
 */
export function errorSummary(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${error.name} (${code})` : error.name;
  }
  return typeof error;
}
