/**
 * The logging port of the domain library. Functions pass their InvocationContext (which has these
 * methods and carries the invocation id as correlation id); tests pass a recorder. The domain never
 * writes to the console.
 */
export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

const PII_KEYS = /^(email|phone|address|password|name|token|refreshToken|accessToken|secret|clientSecret)$/i;

/** Replaces PII and secret-looking fields before an object is logged. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 5 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = PII_KEYS.test(key) ? '[redacted]' : redact(item, depth + 1);
  }
  return out;
}
