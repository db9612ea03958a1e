import { describe, expect, it } from 'vitest';
import { describeForLog, problemResponse } from '../../functions/lib/problem.js';
import * as errors from '../../shared/errors/index.js';
import { silentLogger } from '../../shared/logging/logger.js';

const body = (r: { body?: unknown }) => JSON.parse(String(r.body));

describe('problem+json mapping', () => {
  const cases: [errors.EcommerceException, number][] = [
    [new errors.ValidationException([{ field: 'body.email', message: 'Invalid email' }]), 400],
    [new errors.BadRequestException('x'), 400],
    [new errors.UnauthorizedException(), 401],
    [new errors.ForbiddenException('x'), 403],
    [new errors.ProductNotFoundException(), 404],
    [new errors.ConflictException('x'), 409],
    [new errors.InsufficientInventoryException('p1', 3), 409],
    [new errors.PreconditionFailedException('x'), 412],
    [new errors.PayloadTooLargeException('x'), 413],
    [new errors.UnsupportedMediaTypeException('x'), 415],
    [new errors.UnprocessableException('x'), 422],
    [new errors.RateLimitedException(12.2), 429],
  ];

  it.each(cases)('%s → %i', (error, status) => {
    expect(error).toBeInstanceOf(errors.EcommerceException);
    const res = problemResponse(error, 'corr-1', silentLogger, '/api/x');
    expect(res.status).toBe(status);
    expect((res.headers as Record<string, string>)['content-type']).toBe('application/problem+json');
    const doc = body(res);
    expect(doc).toMatchObject({ status, correlationId: 'corr-1', instance: '/api/x' });
    expect(doc.type).toMatch(/^https:\/\//);
  });

  it('lists each invalid field and carries Retry-After and extensions', () => {
    const v = body(
      problemResponse(
        new errors.ValidationException([{ field: 'query.pageSize', message: 'too big' }]),
        'c',
        silentLogger,
      ),
    );
    expect(v.errors).toEqual([{ field: 'query.pageSize', message: 'too big' }]);
    const r = problemResponse(new errors.RateLimitedException(12.2), 'c', silentLogger);
    expect((r.headers as Record<string, string>)['Retry-After']).toBe('13');
    expect(
      body(problemResponse(new errors.InsufficientInventoryException('p1', 3), 'c', silentLogger)),
    ).toMatchObject({
      productId: 'p1',
      available: 3,
    });
  });

  it('logs database errors without their statement or values', () => {
    const dbError = Object.assign(
      new Error("insert into users (name) values ('Alice Secret') - duplicate key"),
      {
        code: '23505',
        constraint: 'users_tenant_id_email_bidx_key',
      },
    );
    const line = describeForLog(dbError);
    expect(line).toContain('23505');
    expect(line).toContain('users_tenant_id_email_bidx_key');
    expect(line).not.toContain('Alice');
  });

  it('hides the internals of unknown errors behind a 500 with a correlation id', () => {
    const logged: unknown[] = [];
    const log = { ...silentLogger, error: (...a: unknown[]) => logged.push(...a) };
    const res = problemResponse(new Error('password=hunter2 at db.query'), 'corr-9', log);
    expect(res.status).toBe(500);
    expect(String(res.body)).not.toContain('hunter2');
    expect(body(res)).toMatchObject({ status: 500, correlationId: 'corr-9' });
    expect(logged.join(' ')).toContain('hunter2');
  });
});
