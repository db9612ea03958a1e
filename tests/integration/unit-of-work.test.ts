import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { runAutocommitStatement } from '../../shared/db/autocommit.js';
import { isInTransaction, runUnitOfWork } from '../../shared/db/unit-of-work.js';
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

  it('tells a transaction from none, for a lazily forked read unit of work too', async () => {
    expect(await runUnitOfWork('read', async (em) => isInTransaction(em))).toBe(false);
    expect(
      await runUnitOfWork('read', async (em) => {
        await em.findOne(Tenant, randomUUID()); // forces the fork
        return isInTransaction(em);
      }),
    ).toBe(false);
    expect(await runUnitOfWork('write', async (em) => isInTransaction(em))).toBe(true);
  });
});

describe('autocommit statements on the ORM pool', () => {
  const tenantId = randomUUID();
  // Any statement naming the tenant as $1; the tenant need not exist.
  const backendPid = {
    text: 'select pg_backend_pid() as pid from (select $1::uuid as tenant_id) t where tenant_id = $1',
    values: [tenantId],
  };

  it('refuses a statement not scoped to the tenant as $1, or bound to another tenant', async () => {
    await expect(
      runAutocommitStatement(tenantId, { text: 'select 1 from tenants', values: [tenantId] }),
    ).rejects.toThrow(/scoped to the tenant/);
    await expect(runAutocommitStatement(tenantId, { ...backendPid, values: [randomUUID()] })).rejects.toThrow(
      /scoped to the tenant/,
    );
  });

  it('commits on its own, even when the surrounding read unit of work fails afterwards', async () => {
    const id = randomUUID();
    await expect(
      runUnitOfWork('read', async () => {
        await runAutocommitStatement(id, {
          text: `insert into tenants (id, slug, name)
            select tenant_id, $2, 'Autocommit' from (select $1::uuid as tenant_id) t where tenant_id = $1`,
          values: [id, `ac-${id.slice(0, 8)}`],
        });
        throw new Error('later failure');
      }),
    ).rejects.toThrow('later failure');
    expect(await tenantCount([id])).toBe(1);
  });

  it('a connection the server terminates is not lent again, and nothing crashes', async () => {
    const [first] = await runAutocommitStatement<{ pid: number }>(tenantId, backendPid);
    const pid = first!.pid;
    await testPool().query('select pg_terminate_backend($1)', [pid]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const pids = await Promise.all(
      Array.from({ length: 4 }, () => runAutocommitStatement<{ pid: number }>(tenantId, backendPid)),
    );
    expect(pids.map((row) => row[0]!.pid)).not.toContain(pid);
  });
});
