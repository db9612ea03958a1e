import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { runUnitOfWork } from '../../shared/db/unit-of-work.js';
import { closeOrms } from '../../shared/db/orm.js';
import { Tenant } from '../../shared/models/tenant.js';
import { testPool, closeTestPool } from '../fixtures/sample_data.js';

async function tenantCount(ids: string[]): Promise<number> {
  const { rows } = await testPool().query('select count(*)::int as n from tenants where id = any($1)', [ids]);
  return rows[0].n;
}

describe('unit of work per invocation', () => {
  afterAll(async () => {
    await closeOrms();
    await closeTestPool();
  });

  it('commits ORM changes and raw statements together on success', async () => {
    const a = randomUUID();
    const b = randomUUID();
    await runUnitOfWork('write', async (em) => {
      em.create(Tenant, { id: a, slug: `uow-${a.slice(0, 8)}`, name: 'A' });
      await em.execute('insert into tenants (id, slug, name) values (?, ?, ?)', [
        b,
        `uow-${b.slice(0, 8)}`,
        'B',
      ]);
    });
    expect(await tenantCount([a, b])).toBe(2);
  });

  it('leaves no partial write when the invocation fails midway', async () => {
    const a = randomUUID();
    const b = randomUUID();
    await expect(
      runUnitOfWork('write', async (em) => {
        await em.execute('insert into tenants (id, slug, name) values (?, ?, ?)', [
          a,
          `uow-${a.slice(0, 8)}`,
          'A',
        ]);
        em.create(Tenant, { id: b, slug: `uow-${b.slice(0, 8)}`, name: 'B' });
        await em.flush();
        throw new Error('midway failure');
      }),
    ).rejects.toThrow('midway failure');
    expect(await tenantCount([a, b])).toBe(0);
  });

  it('gives each invocation its own identity map', async () => {
    const id = randomUUID();
    await runUnitOfWork('write', async (em) => {
      em.create(Tenant, { id, slug: `uow-${id.slice(0, 8)}`, name: 'Original' });
    });
    const [first, second] = await Promise.all([
      runUnitOfWork('read', async (em) => em.findOneOrFail(Tenant, id)),
      runUnitOfWork('read', async (em) => em.findOneOrFail(Tenant, id)),
    ]);
    expect(first).not.toBe(second);
  });
});
