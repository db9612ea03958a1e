import type { Pool, PoolClient } from 'pg';
import type { Bookkeeping } from './episode.js';
import type { HistoryEvent } from './history.js';

/**
 * Durable instance state in PostgreSQL, in a schema of the host's own (never the domain's migrations):
 * instances, their history, an inbox of events not yet replayed (task results, raised events, timers —
 * a timer is an inbox row that becomes visible at its fire time) and the activity executions to perform.
 * Every row carries the task hub, so several hosts (or test runs) can share one database.
 */

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';
export const TERMINAL: readonly RuntimeStatus[] = ['Completed', 'Failed', 'Terminated'];

export interface InstanceRow {
  instanceId: string;
  name: string;
  status: RuntimeStatus;
  /** JSON text, as the client sent it. */
  input: string | null;
  output: string | null;
  customStatus: string | null;
  failure: Record<string, unknown> | null;
  bookkeeping: Bookkeeping;
  historyLength: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface MessageRow {
  id: string;
  event: HistoryEvent;
}

export interface ActivityRow {
  id: string;
  instanceId: string;
  taskId: number;
  name: string;
  input: unknown;
}

export interface InstanceFilter {
  statuses?: RuntimeStatus[];
  createdFrom?: Date;
  createdTo?: Date;
}

interface DbInstance {
  instance_id: string;
  name: string;
  status: RuntimeStatus;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  failure: Record<string, unknown> | null;
  bookkeeping: Bookkeeping;
  history_length: number;
  created_at: Date;
  updated_at: Date;
}

const toInstance = (r: DbInstance): InstanceRow => ({
  instanceId: r.instance_id,
  name: r.name,
  status: r.status,
  input: r.input,
  output: r.output,
  customStatus: r.custom_status,
  failure: r.failure,
  bookkeeping: r.bookkeeping,
  historyLength: r.history_length,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

type Queryable = Pool | PoolClient;

function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`Invalid schema name "${name}"`);
  return `"${name}"`;
}

/** Statements that read or change one instance under its row lock. */
export class InstanceTx {
  constructor(
    private readonly db: PoolClient,
    private readonly s: string,
    private readonly hub: string,
  ) {}

  /** Locks the instance row for this transaction (another worker waits until commit). */
  async lock(instanceId: string): Promise<InstanceRow | undefined> {
    const { rows } = await this.db.query<DbInstance>(
      `select * from ${this.s}.instances where hub = $1 and instance_id = $2 for update`,
      [this.hub, instanceId],
    );
    return rows[0] ? toInstance(rows[0]) : undefined;
  }

  async visibleMessages(instanceId: string, now: Date): Promise<MessageRow[]> {
    const { rows } = await this.db.query<{ id: string; event: HistoryEvent }>(
      `select id::text as id, event from ${this.s}.messages
        where hub = $1 and instance_id = $2 and visible_at <= $3 order by id`,
      [this.hub, instanceId, now],
    );
    return rows;
  }

  async history(instanceId: string): Promise<HistoryEvent[]> {
    const { rows } = await this.db.query<{ event: HistoryEvent }>(
      `select event from ${this.s}.history where hub = $1 and instance_id = $2 order by seq`,
      [this.hub, instanceId],
    );
    return rows.map((r) => r.event);
  }

  async appendHistory(instanceId: string, from: number, items: HistoryEvent[]): Promise<void> {
    if (items.length === 0) return;
    await this.db.query(
      `insert into ${this.s}.history (hub, instance_id, seq, event)
       select $1, $2, $3::int + ord - 1, e from jsonb_array_elements($4::jsonb) with ordinality as t(e, ord)`,
      [this.hub, instanceId, from, JSON.stringify(items)],
    );
  }

  async deleteMessages(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query(`delete from ${this.s}.messages where id = any($1::bigint[])`, [ids]);
  }

  async clearPending(instanceId: string): Promise<void> {
    await this.db.query(`delete from ${this.s}.messages where hub = $1 and instance_id = $2`, [
      this.hub,
      instanceId,
    ]);
    await this.db.query(`delete from ${this.s}.activities where hub = $1 and instance_id = $2`, [
      this.hub,
      instanceId,
    ]);
  }

  async clearHistory(instanceId: string): Promise<void> {
    await this.db.query(`delete from ${this.s}.history where hub = $1 and instance_id = $2`, [
      this.hub,
      instanceId,
    ]);
  }

  async insertMessage(instanceId: string, event: HistoryEvent, visibleAt: Date): Promise<void> {
    await this.db.query(
      `insert into ${this.s}.messages (hub, instance_id, event, visible_at) values ($1, $2, $3, $4)`,
      [this.hub, instanceId, JSON.stringify(event), visibleAt],
    );
  }

  async cancelTimer(instanceId: string, timerId: number): Promise<void> {
    await this.db.query(
      `delete from ${this.s}.messages where hub = $1 and instance_id = $2
          and (event->>'EventType')::int = 11 and (event->>'TimerId')::int = $3`,
      [this.hub, instanceId, timerId],
    );
  }

  async insertActivity(instanceId: string, taskId: number, name: string, input: unknown): Promise<void> {
    await this.db.query(
      `insert into ${this.s}.activities (hub, instance_id, task_id, name, input) values ($1, $2, $3, $4, $5)`,
      // Wrapped so `undefined` (no input) survives the round trip distinct from `null`.
      [this.hub, instanceId, taskId, name, JSON.stringify(input === undefined ? {} : { value: input })],
    );
  }

  /** Creates a Pending instance; false when the id is taken (the caller then decides about a restart). */
  async insertInstance(
    row: Pick<InstanceRow, 'instanceId' | 'name' | 'input' | 'bookkeeping'>,
    now: Date,
  ): Promise<boolean> {
    const result = await this.db.query(
      `insert into ${this.s}.instances
         (hub, instance_id, name, status, input, bookkeeping, history_length, created_at, updated_at)
       values ($1, $2, $3, 'Pending', $4, $5, 0, $6, $6)
       on conflict (hub, instance_id) do nothing`,
      [this.hub, row.instanceId, row.name, row.input, JSON.stringify(row.bookkeeping), now],
    );
    return result.rowCount === 1;
  }

  /** Reuses a finished instance's id for a new execution: history and pending work are dropped first. */
  async restartInstance(
    row: Pick<InstanceRow, 'instanceId' | 'name' | 'input' | 'bookkeeping'>,
    now: Date,
  ): Promise<void> {
    await this.clearPending(row.instanceId);
    await this.clearHistory(row.instanceId);
    await this.db.query(
      `update ${this.s}.instances set name = $3, status = 'Pending', input = $4, output = null,
         custom_status = null, failure = null, bookkeeping = $5, history_length = 0, created_at = $6, updated_at = $6
       where hub = $1 and instance_id = $2`,
      [this.hub, row.instanceId, row.name, row.input, JSON.stringify(row.bookkeeping), now],
    );
  }

  /** Drops inbox rows of an execution that ended (continue-as-new keeps raised events, as they are new). */
  async dropStaleWork(instanceId: string, keepRaisedEvents: boolean): Promise<void> {
    await this.db.query(
      `delete from ${this.s}.messages where hub = $1 and instance_id = $2
          and ($3::boolean is false or (event->>'EventType')::int <> 15)`,
      [this.hub, instanceId, keepRaisedEvents],
    );
    await this.db.query(`delete from ${this.s}.activities where hub = $1 and instance_id = $2`, [
      this.hub,
      instanceId,
    ]);
  }

  async update(
    instanceId: string,
    patch: Partial<
      Pick<
        InstanceRow,
        'status' | 'input' | 'output' | 'customStatus' | 'failure' | 'bookkeeping' | 'historyLength'
      >
    >,
    now: Date,
  ): Promise<void> {
    const columns: Record<string, unknown> = {
      status: patch.status,
      input: patch.input,
      output: patch.output,
      custom_status: patch.customStatus,
      failure: patch.failure === undefined ? undefined : JSON.stringify(patch.failure),
      bookkeeping: patch.bookkeeping === undefined ? undefined : JSON.stringify(patch.bookkeeping),
      history_length: patch.historyLength,
    };
    const sets: string[] = [];
    const values: unknown[] = [this.hub, instanceId, now];
    for (const [column, value] of Object.entries(columns)) {
      if (value === undefined) continue;
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    }
    await this.db.query(
      `update ${this.s}.instances set ${[...sets, 'updated_at = $3'].join(', ')}
        where hub = $1 and instance_id = $2`,
      values,
    );
  }
}

export class DurableStore {
  readonly hub: string;
  #s: string;

  constructor(
    private readonly pool: Pool,
    schema: string,
    hub: string,
  ) {
    this.#s = ident(schema);
    this.hub = hub;
  }

  /** Creates the schema and tables if needed; an advisory lock keeps concurrent hosts from racing. */
  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    const guard = guardClient(client);
    try {
      await client.query('begin');
      await client.query(`select pg_advisory_xact_lock(hashtext('durable_host:' || $1))`, [this.#s]);
      const s = this.#s;
      await client.query(`create schema if not exists ${s}`);
      await client.query(`create table if not exists ${s}.instances (
        hub text not null,
        instance_id text not null,
        name text not null,
        status text not null,
        input text,
        output text,
        custom_status text,
        failure jsonb,
        bookkeeping jsonb not null,
        history_length int not null default 0,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        primary key (hub, instance_id))`);
      await client.query(`create index if not exists instances_status on ${s}.instances (hub, status)`);
      await client.query(`create table if not exists ${s}.history (
        hub text not null,
        instance_id text not null,
        seq int not null,
        event jsonb not null,
        primary key (hub, instance_id, seq),
        foreign key (hub, instance_id) references ${s}.instances on delete cascade)`);
      await client.query(`create table if not exists ${s}.messages (
        id bigserial primary key,
        hub text not null,
        instance_id text not null,
        event jsonb not null,
        visible_at timestamptz not null,
        foreign key (hub, instance_id) references ${s}.instances on delete cascade)`);
      await client.query(`create index if not exists messages_due on ${s}.messages (hub, visible_at)`);
      await client.query(
        `create index if not exists messages_instance on ${s}.messages (hub, instance_id, id)`,
      );
      await client.query(`create table if not exists ${s}.activities (
        id bigserial primary key,
        hub text not null,
        instance_id text not null,
        task_id int not null,
        name text not null,
        input jsonb not null,
        locked_by text,
        locked_until timestamptz,
        foreign key (hub, instance_id) references ${s}.instances on delete cascade)`);
      await client.query(`create index if not exists activities_hub on ${s}.activities (hub, id)`);
      await client.query('commit');
    } catch (error) {
      guard.failed(error);
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      guard.release();
    }
  }

  /** Runs `work` in one transaction; the callback locks the instance rows it changes. */
  async transaction<T>(work: (tx: InstanceTx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const guard = guardClient(client);
    try {
      await client.query('begin');
      const result = await work(new InstanceTx(client, this.#s, this.hub));
      await client.query('commit');
      return result;
    } catch (error) {
      guard.failed(error);
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      guard.release();
    }
  }

  async getInstance(instanceId: string, db: Queryable = this.pool): Promise<InstanceRow | undefined> {
    const { rows } = await db.query<DbInstance>(
      `select * from ${this.#s}.instances where hub = $1 and instance_id = $2`,
      [this.hub, instanceId],
    );
    return rows[0] ? toInstance(rows[0]) : undefined;
  }

  async history(instanceId: string): Promise<HistoryEvent[]> {
    const { rows } = await this.pool.query<{ event: HistoryEvent }>(
      `select event from ${this.#s}.history where hub = $1 and instance_id = $2 order by seq`,
      [this.hub, instanceId],
    );
    return rows.map((r) => r.event);
  }

  async listInstances(filter: InstanceFilter = {}): Promise<InstanceRow[]> {
    const { where, values } = this.#filter(filter);
    const { rows } = await this.pool.query<DbInstance>(
      `select * from ${this.#s}.instances where ${where} order by created_at, instance_id`,
      values,
    );
    return rows.map(toInstance);
  }

  #filter(filter: InstanceFilter): { where: string; values: unknown[] } {
    const values: unknown[] = [this.hub];
    const clauses = ['hub = $1'];
    if (filter.statuses && filter.statuses.length > 0) {
      values.push(filter.statuses);
      clauses.push(`status = any($${values.length}::text[])`);
    }
    if (filter.createdFrom) {
      values.push(filter.createdFrom);
      clauses.push(`created_at >= $${values.length}`);
    }
    if (filter.createdTo) {
      values.push(filter.createdTo);
      clauses.push(`created_at <= $${values.length}`);
    }
    return { where: clauses.join(' and '), values };
  }

  /**
   * Adds an event to a live instance's inbox. Returns the instance's status (undefined = no such
   * instance); nothing is inserted for a finished instance.
   */
  async enqueueEvent(
    instanceId: string,
    event: HistoryEvent,
    visibleAt: Date,
  ): Promise<RuntimeStatus | undefined> {
    const { rows } = await this.pool.query<{ status: RuntimeStatus; inserted: boolean }>(
      `with target as (
         select status from ${this.#s}.instances where hub = $1 and instance_id = $2
       ), ins as (
         insert into ${this.#s}.messages (hub, instance_id, event, visible_at)
         select $1, $2, $3, $4 from target where status in ('Pending', 'Running')
         returning 1
       )
       select status, exists(select 1 from ins) as inserted from target`,
      [this.hub, instanceId, JSON.stringify(event), visibleAt],
    );
    return rows[0]?.status;
  }

  /** Instances with an event ready to replay. */
  async dueInstances(now: Date, limit = 100): Promise<string[]> {
    const { rows } = await this.pool.query<{ instance_id: string }>(
      `select distinct instance_id from ${this.#s}.messages where hub = $1 and visible_at <= $2 limit $3`,
      [this.hub, now, limit],
    );
    return rows.map((r) => r.instance_id);
  }

  async nextVisibleAt(after: Date): Promise<Date | undefined> {
    const { rows } = await this.pool.query<{ at: Date | null }>(
      `select min(visible_at) as at from ${this.#s}.messages where hub = $1 and visible_at > $2`,
      [this.hub, after],
    );
    return rows[0]?.at ?? undefined;
  }

  /** Leases up to `limit` activity executions not leased by a live worker. */
  async claimActivities(owner: string, limit: number, leaseMs: number, now: Date): Promise<ActivityRow[]> {
    if (limit <= 0) return [];
    const { rows } = await this.pool.query<{
      id: string;
      instance_id: string;
      task_id: number;
      name: string;
      input: { value?: unknown };
    }>(
      `update ${this.#s}.activities set locked_by = $2, locked_until = $3
        where id in (
          select id from ${this.#s}.activities
           where hub = $1 and (locked_until is null or locked_until < $4)
           order by id limit $5 for update skip locked)
        returning id::text as id, instance_id, task_id, name, input`,
      [this.hub, owner, new Date(now.getTime() + leaseMs), now, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      instanceId: r.instance_id,
      taskId: r.task_id,
      name: r.name,
      input: 'value' in r.input ? r.input.value : undefined,
    }));
  }

  async renewLeases(owner: string, ids: string[], until: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.pool.query(
      `update ${this.#s}.activities set locked_until = $3 where locked_by = $1 and id = any($2::bigint[])`,
      [owner, ids, until],
    );
  }

  async releaseLeases(owner: string): Promise<void> {
    await this.pool.query(
      `update ${this.#s}.activities set locked_by = null, locked_until = null where hub = $1 and locked_by = $2`,
      [this.hub, owner],
    );
  }

  /**
   * Records an activity's outcome: removes the execution and puts its result in the inbox, atomically.
   * False when the execution is gone (the instance was terminated or purged meanwhile).
   */
  async completeActivity(activity: ActivityRow, result: HistoryEvent, now: Date): Promise<boolean> {
    const client = await this.pool.connect();
    const guard = guardClient(client);
    try {
      await client.query('begin');
      const deleted = await client.query(`delete from ${this.#s}.activities where id = $1`, [activity.id]);
      if (deleted.rowCount === 1)
        await client.query(
          `insert into ${this.#s}.messages (hub, instance_id, event, visible_at) values ($1, $2, $3, $4)`,
          [this.hub, activity.instanceId, JSON.stringify(result), now],
        );
      await client.query('commit');
      return deleted.rowCount === 1;
    } catch (error) {
      guard.failed(error);
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      guard.release();
    }
  }

  /** Deletes finished instances (with their history); running ones are left alone. */
  async purge(filter: InstanceFilter & { instanceId?: string }): Promise<number> {
    const statuses = (filter.statuses ?? [...TERMINAL]).filter((s) => TERMINAL.includes(s));
    const { where, values } = this.#filter({ ...filter, statuses });
    let clause = where;
    if (filter.instanceId !== undefined) {
      values.push(filter.instanceId);
      clause += ` and instance_id = $${values.length}`;
    }
    const result = await this.pool.query(`delete from ${this.#s}.instances where ${clause}`, values);
    return result.rowCount ?? 0;
  }
}

/**
 * pg-pool removes its own 'error' listener while a client is checked out: a backend terminated
 * between two statements (failover, restart, pg_terminate_backend) would emit an unhandled 'error' and
 * take the whole host down. The guard listens for it, and a client whose connection broke is discarded
 * on release instead of going back to the pool; the engine retries the work on a fresh one.
 */
function guardClient(client: PoolClient): { failed(error: unknown): void; release(): void } {
  let broken: Error | undefined;
  const onError = (error: Error): void => {
    broken = error;
  };
  client.on('error', onError);
  return {
    failed(error: unknown) {
      const code = (error as { code?: unknown }).code;
      // Class 08 (connection exception) and 57P (operator intervention): the session is gone.
      if (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P')))
        broken ??= error as Error;
      else if (error instanceof Error && /Connection terminated|ECONNRESET|EPIPE/.test(error.message))
        broken ??= error;
    },
    release() {
      client.off('error', onError);
      client.release(broken);
    },
  };
}
