import { describe, expect, it } from 'vitest';
import { DriverException } from '@mikro-orm/core';
import { describeForLog, problemResponse } from '../../functions/lib/problem.js';
import { silentLogger } from '../../shared/logging/logger.js';

/**
 * Found by the fault suite (PostgreSQL backends killed mid-request): a lost database connection was a
 * 500 "Internal error", and its log line carried the SQL statement with its values inlined (tenant,
 * user and idempotency key here; hashes or ciphertext in other statements). Now a lost or refused
 * connection is a 503 with Retry-After, and such errors are logged without their statement.
 *
 * No invariant check at the end (issue #17): these are pure calls of problemResponse with made-up
 * errors — no database, order, stock or Stripe — so the oracle would have nothing to read, and it
 * rightly refuses a run with no product and no order. The same failures with real money and stock
 * behind them are faults.test.ts's backend kills, which end every scenario with the oracle.
 */
function logged(): { lines: string[]; log: typeof silentLogger } {
  const lines: string[] = [];
  const push = (...args: unknown[]): void => void lines.push(args.map(String).join(' '));
  return { lines, log: { ...silentLogger, error: push, warn: push } };
}

const lost = (): DriverException =>
  new DriverException(
    new Error(
      "select o.id from orders o where o.user_id = '74f0c36f-46df-4463-862f-9f70cbdedb26' and o.idempotency_key = 'secret-key' - Client has encountered a connection error and is not queryable",
    ),
  );

describe('lost database connections', () => {
  it.each([
    ['a connection the driver lost mid-statement', lost()],
    [
      'a backend terminated by the server (57P01)',
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    ],
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ],
    ['an exhausted pool', new Error('Knex: Timeout acquiring a connection. The pool is probably full.')],
    [
      'a wrapped cause',
      new Error('activity failed', { cause: new Error('Connection terminated unexpectedly') }),
    ],
  ])('%s → 503 + Retry-After', (_label, error) => {
    const { lines, log } = logged();
    const res = problemResponse(error, 'corr-1', log, '/api/checkout');
    expect(res.status).toBe(503);
    expect((res.headers as Record<string, string>)['Retry-After']).toBe('1');
    expect(JSON.parse(String(res.body))).toMatchObject({ status: 503, title: 'Service unavailable' });
    expect(lines.join('\n')).not.toMatch(/secret-key|74f0c36f/);
  });

  it('logs a statement-bearing driver error by its reason only', () => {
    const line = describeForLog(lost());
    expect(line).toBe('DriverException (Client has encountered a connection error and is not queryable)');
    expect(
      describeForLog(new Error('COMMIT; - Client has encountered a connection error and is not queryable')),
    ).not.toContain('COMMIT');
  });

  it('keeps real bugs as 500s', () => {
    expect(
      problemResponse(new TypeError("Cannot read properties of null (reading 'object')"), 'c', silentLogger)
        .status,
    ).toBe(500);
    expect(problemResponse(Object.assign(new Error('x'), { code: '23505' }), 'c', silentLogger).status).toBe(
      500,
    );
  });
});
