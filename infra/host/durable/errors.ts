/**
 * Error descriptions that are safe to log. Database errors are described by class and SQLSTATE only:
 * a driver's message can quote the statement with its values (knex and MikroORM prefix the SQL text
 * with the bound values inlined; PostgreSQL itself quotes rejected input, e.g. `invalid input syntax
 * for type uuid: "…"`, and puts key values in `detail`). Other errors keep their message unless it
 * looks like it carries SQL.
 */

const SQLSTATE = /^[0-9A-Z]{5}$/;
const LOOKS_LIKE_SQL =
  /\b(select\b[\s\S]*\bfrom|insert\s+into|update\s+\S+\s+set|delete\s+from|values\s*\(|returning\b)/i;
const MAX_MESSAGE = 300;

/** Names of the SQLSTATE classes seen in practice, so a log line is readable without a lookup. */
const CLASSES: Record<string, string> = {
  '08': 'connection exception',
  '22': 'data exception',
  '23': 'integrity constraint violation',
  '25': 'invalid transaction state',
  '28': 'invalid authorization',
  '40': 'transaction rollback',
  '42': 'syntax error or access rule violation',
  '53': 'insufficient resources',
  '54': 'program limit exceeded',
  '55': 'object not in prerequisite state',
  '57': 'operator intervention',
  '58': 'system error',
  XX: 'internal error',
};

/** The SQLSTATE an error (or the driver error it wraps) carries, if any. */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const record = e as { code?: unknown; sqlState?: unknown; cause?: unknown };
    for (const candidate of [record.sqlState, record.code])
      if (typeof candidate === 'string' && SQLSTATE.test(candidate)) return candidate;
    e = record.cause;
  }
  return undefined;
}

function errorClass(error: unknown): string {
  if (error instanceof Error) {
    const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof ctor === 'string' && ctor !== '' && ctor !== 'Error' ? ctor : error.name;
  }
  return typeof error;
}

/**
 * `ClassName SQLSTATE 23505 (integrity constraint violation)` for database errors, `ClassName: message`
 * otherwise (the message withheld when it looks like SQL, cut to a few hundred characters).
 */
export function safeErrorText(error: unknown): string {
  const name = errorClass(error);
  const state = sqlState(error);
  if (state) {
    const description = CLASSES[state.slice(0, 2)];
    return `${name} SQLSTATE ${state}${description ? ` (${description})` : ''}`;
  }
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  return `${name}: ${safeMessage(message)}`;
}

/** A free-text message as it may be logged: withheld when it looks like it quotes SQL. */
export function safeMessage(message: string): string {
  if (LOOKS_LIKE_SQL.test(message)) return '(message withheld: it quotes SQL)';
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
}

/**
 * A database error that a retry on a fresh connection may not meet again: the session was lost
 * (class 08, 57P0x), a serialization failure or deadlock (40xxx), too many connections (53300).
 */
export function isTransientStoreError(error: unknown): boolean {
  const state = sqlState(error);
  if (state) return /^(08|57P0|40|53300)/.test(state);
  return error instanceof Error && /Connection terminated|ECONNRESET|ECONNREFUSED|EPIPE/.test(error.message);
}

/** `safeErrorText` plus the stack frames (without the message line the stack starts with). */
export function safeErrorReport(error: unknown): string {
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const frames = stack
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n');
  return frames ? `${safeErrorText(error)}\n${frames}` : safeErrorText(error);
}
