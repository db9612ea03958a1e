import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityWorker } from '../../infra/host/durable/activity-worker.js';
import { emptyBookkeeping } from '../../infra/host/durable/episode.js';
import { isTransientStoreError, safeErrorText } from '../../infra/host/durable/errors.js';
import { events, type HistoryEvent } from '../../infra/host/durable/history.js';
import {
  DurableStore,
  guardPool,
  type EpisodeWrite,
  type InstanceRow,
} from '../../infra/host/durable/store.js';
import type { HostLogger, RegisteredFunction } from '../../infra/host/types.js';
import { ADMIN_PG_URL } from '../setup/test-env.js';
import { uniqueHub, until } from './helpers.js';

/** A logger that keeps every line, to check what the store and the worker say (and never say). */
function capturingLogger(): HostLogger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string): void => void lines.push(message);
  return { lines, debug: keep, info: keep, warn: keep, error: keep };
}

const hub = uniqueHub();
let pool: pg.Pool;
let admin: pg.Client;
let store: DurableStore;
const logger = capturingLogger();

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
  store = new DurableStore(pool, 'durable_host', hub, logger);
  await store.migrate();
  admin = new pg.Client({ connectionString: ADMIN_PG_URL });
  await admin.connect();
});

afterAll(async () => {
  await pool?.end();
  await admin?.end();
});

async function newInstance(): Promise<{ id: string; instance: InstanceRow; messageIds: string[] }> {
  const id = `store-${randomUUID()}`;
  const now = new Date();
  const started = events.executionStarted('flow', '1', now);
  expect(
    await store.createInstance(
      { instanceId: id, name: 'flow', input: '1', bookkeeping: emptyBookkeeping() },
      started,
      now,
    ),
  ).toBe(true);
  const snapshot = (await store.readEpisode(id, new Date(), false))!;
  return { id, instance: snapshot.instance, messageIds: snapshot.messages.map((m) => m.id) };
}

function episode(id: string, instance: InstanceRow, overrides: Partial<EpisodeWrite> = {}): EpisodeWrite {
  const now = new Date();
  const appended: HistoryEvent[] = [events.orchestratorStarted(now), events.orchestratorCompleted(now)];
  return {
    instanceId: id,
    expectedVersion: instance.version,
    consumedActivities: [],
    instance: {
      status: 'Running',
      input: instance.input,
      output: instance.output,
      customStatus: instance.customStatus,
      failure: null,
      bookkeeping: instance.bookkeeping,
      historyLength: instance.historyLength + appended.length,
    },
    clearHistory: false,
    appendHistory: { from: instance.historyLength, events: appended },
    deleteMessages: [],
    clearMessages: 'none',
    cancelTimers: [],
    insertMessages: [],
    clearActivities: false,
    insertActivities: [],
    lease: { owner: 'owner-a', until: new Date(Date.now() + 60_000) },
    now,
    ...overrides,
  };
}

async function backendPid(client: pg.PoolClient): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  return rows[0]!.pid;
}

describe('durable store connections', () => {
  it('a client handed out by pool.connect() survives its backend being terminated before the caller listens', async () => {
    const client = await pool.connect();
    // The window of the original crash: pg-pool has removed its own listener, the caller has not
    // attached one yet. The store's pool gives every client a permanent one.
    expect(client.listenerCount('error')).toBeGreaterThan(0);
    const pid = await backendPid(client);
    const emitted = new Promise<unknown>((resolve) => {
      const emit = client.emit.bind(client);
      client.emit = ((event: string, ...args: unknown[]) => {
        if (event === 'error') resolve(args[0]);
        return emit(event, ...args);
      }) as typeof client.emit;
    });
    await admin.query('select pg_terminate_backend($1)', [pid]);
    const error = (await emitted) as Error & { code?: string };
    expect(error.code).toBe('57P01');
    client.release(error);
    // The pool replaces the dead connection.
    expect((await pool.query<{ one: number }>('select 1 as one')).rows[0]!.one).toBe(1);
  });

  it('logs a lost idle connection by SQLSTATE only', async () => {
    const client = await pool.connect();
    const pid = await backendPid(client);
    client.release();
    const before = logger.lines.length;
    await admin.query('select pg_terminate_backend($1)', [pid]);
    const line = await until(() => logger.lines.slice(before).find((l) => l.includes('connection was lost')));
    expect(line).toContain('SQLSTATE 57P01');
    expect(line).not.toContain('administrator command');
  });

  it('guards a pool once, however often it is handed to a store', () => {
    const other = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    guardPool(other);
    guardPool(other);
    new DurableStore(other, 'durable_host', hub);
    expect(other.listenerCount('connect')).toBe(1);
    expect(other.listenerCount('error')).toBe(1);
    void other.end();
  });
});

describe('episode writes', () => {
  it('writes history, inbox and executions in one statement, leasing the ones asked for', async () => {
    const { id, instance, messageIds } = await newInstance();
    const outcome = await store.writeEpisode(
      episode(id, instance, {
        deleteMessages: messageIds,
        insertActivities: [
          { taskId: 0, name: 'a', input: { n: 1 }, leased: true },
          { taskId: 1, name: 'b', input: undefined, leased: false },
        ],
      }),
    );
    expect(outcome.applied).toBe(true);
    if (!outcome.applied) return;
    expect(outcome.leased).toEqual([
      { id: expect.any(String) as string, instanceId: id, taskId: 0, name: 'a', input: { n: 1 } },
    ]);
    const after = (await store.readEpisode(id, new Date(), true))!;
    expect(after.instance.version).not.toBe(instance.version);
    expect(after.instance.historyLength).toBe(2);
    expect(after.history).toHaveLength(2);
    expect(after.messages).toEqual([]);
    // The unleased one is there for any worker; the leased one only for its owner.
    const claimedByOther = await store.claimActivities('owner-b', 10, 60_000, new Date());
    expect(claimedByOther.filter((a) => a.instanceId === id).map((a) => a.name)).toEqual(['b']);
  });

  it('changes nothing when the instance moved on since the read', async () => {
    const { id, instance, messageIds } = await newInstance();
    expect((await store.writeEpisode(episode(id, instance, { deleteMessages: messageIds }))).applied).toBe(
      true,
    );
    // A second worker that read the same version must not apply its episode too.
    const stale = await store.writeEpisode(
      episode(id, instance, {
        deleteMessages: messageIds,
        insertActivities: [{ taskId: 0, name: 'dup', input: 1, leased: true }],
      }),
    );
    expect(stale).toEqual({ applied: false, reason: 'conflict', missing: [] });
    const after = (await store.readEpisode(id, new Date(), true))!;
    expect(after.history).toHaveLength(2);
    expect(await store.claimActivities('owner-x', 10, 60_000, new Date())).not.toContainEqual(
      expect.objectContaining({ instanceId: id }),
    );
  });

  it('refuses to replay a result whose execution is gone (recorded elsewhere), saying which', async () => {
    const { id, instance, messageIds } = await newInstance();
    const first = await store.writeEpisode(
      episode(id, instance, {
        deleteMessages: messageIds,
        insertActivities: [{ taskId: 0, name: 'a', input: 1, leased: true }],
      }),
    );
    if (!first.applied) throw new Error('first episode not applied');
    const activity = first.leased[0]!;
    // Another host re-ran it after the lease lapsed and recorded the result in the inbox.
    expect(
      await store.completeActivity(activity, events.taskCompleted(0, '"x"', new Date()), new Date()),
    ).toBe(true);
    const current = (await store.readEpisode(id, new Date(), true))!.instance;
    const outcome = await store.writeEpisode(episode(id, current, { consumedActivities: [activity.id] }));
    expect(outcome).toEqual({ applied: false, reason: 'conflict', missing: [activity.id] });
    // Recording it a second time is a no-op too.
    expect(
      await store.completeActivity(activity, events.taskCompleted(0, '"x"', new Date()), new Date()),
    ).toBe(false);
  });

  it('says when the instance is gone', async () => {
    const { id, instance } = await newInstance();
    await pool.query('delete from durable_host.instances where hub = $1 and instance_id = $2', [hub, id]);
    expect(await store.writeEpisode(episode(id, instance))).toEqual({
      applied: false,
      reason: 'gone',
      missing: [],
    });
  });

  it("re-claims its own leased executions it does not know about (a write whose answer was lost), not another's", async () => {
    const { id, instance, messageIds } = await newInstance();
    const written = await store.writeEpisode(
      episode(id, instance, {
        deleteMessages: messageIds,
        insertActivities: [{ taskId: 0, name: 'orphan', input: 1, leased: true }],
        lease: { owner: 'owner-c', until: new Date(Date.now() + 60_000) },
      }),
    );
    if (!written.applied) throw new Error('not applied');
    const orphan = written.leased[0]!;
    const mine = (rows: { id: string }[]): string[] =>
      rows.filter((r) => r.id === orphan.id).map((r) => r.id);
    expect(mine(await store.claimActivities('owner-d', 50, 60_000, new Date()))).toEqual([]);
    expect(mine(await store.claimActivities('owner-c', 50, 60_000, new Date(), [orphan.id]))).toEqual([]);
    expect(mine(await store.claimActivities('owner-c', 50, 60_000, new Date()))).toEqual([orphan.id]);
  });
});

describe('logs never quote SQL values', () => {
  const sqlError = (): Error =>
    Object.assign(
      new Error(
        'insert into users (email) values (\'alice@example.com\') - duplicate key value violates unique constraint "users_email"',
      ),
      { code: '23505', detail: 'Key (email)=(alice@example.com) already exists.' },
    );

  it('describes database errors by class and SQLSTATE', () => {
    const text = safeErrorText(sqlError());
    expect(text).toBe('Error SQLSTATE 23505 (integrity constraint violation)');
    const wrapped = new Error('could not reserve', { cause: { sqlState: '40001' } });
    expect(safeErrorText(wrapped)).toContain('SQLSTATE 40001');
    expect(safeErrorText(new Error("select * from t where a = 'x'"))).not.toContain("'x'");
    expect(safeErrorText(new TypeError('boom'))).toBe('TypeError: boom');
    expect(isTransientStoreError(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
    expect(isTransientStoreError(sqlError())).toBe(false);
  });

  it("logs a failed activity's error safely while the orchestrator gets it in full", async () => {
    const { id, instance, messageIds } = await newInstance();
    await store.writeEpisode(
      episode(id, instance, {
        deleteMessages: messageIds,
        insertActivities: [{ taskId: 0, name: 'failing', input: 1, leased: false }],
      }),
    );
    const failing: RegisteredFunction = {
      name: 'failing',
      metadata: { name: 'failing', bindings: { input: { type: 'activityTrigger', direction: 'in' } } },
      trigger: { type: 'activityTrigger', direction: 'in', name: 'input' },
      handler: () => {
        throw sqlError();
      },
    };
    const lines = capturingLogger();
    const results: HistoryEvent[] = [];
    const worker = new ActivityWorker({
      store,
      logger: lines,
      activities: new Map([['failing', failing]]),
      inputs: {},
      maxConcurrent: 50,
      leaseMs: 60_000,
      owner: `owner-${randomUUID()}`,
      onResult: async (activity, event) => {
        if (activity.instanceId === id) results.push(event);
        await store.completeActivity(activity, event, new Date());
      },
    });
    worker.start();
    try {
      await worker.pump();
      await until(() => results.length > 0 || undefined);
    } finally {
      await worker.stop(1_000);
    }
    expect(results[0]!.Reason).toContain('alice@example.com');
    const logged = lines.lines.join('\n');
    expect(logged).toContain('Durable: activity failing for');
    expect(logged).toContain('SQLSTATE 23505');
    expect(logged).not.toContain('alice');
  });
});
