import type { Pool, PoolClient } from 'pg';
import type { HostLogger } from '../types.js';
import { safeErrorText } from './errors.js';
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
  /**
   * Changes with every write to the row (a value from one sequence, never reused): an episode's
   * writes apply only if the version it replayed is still current.
   */
  version: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface MessageRow {
  id: string;
  event: HistoryEvent;
  /** When it became visible (arrived): a timer's fire time, otherwise when it was inserted. */
  visibleAt: string;
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
  version: string;
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
  version: r.version,
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

  async appendHistory(instanceId: string, from: number, items: HistoryEvent[]): Promise<void> {
    if (items.length === 0) return;
    await this.db.query(
      `insert into ${this.s}.history (hub, instance_id, seq, event)
       select $1, $2, $3::int + ord - 1, e from jsonb_array_elements($4::jsonb) with ordinality as t(e, ord)`,
      [this.hub, instanceId, from, JSON.stringify(items)],
    );
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

  /** Reuses a finished instance's id for a new execution: history and pending work are dropped first. */
  async restartInstance(
    row: Pick<InstanceRow, 'instanceId' | 'name' | 'input' | 'bookkeeping'>,
    now: Date,
  ): Promise<void> {
    await this.clearPending(row.instanceId);
    await this.clearHistory(row.instanceId);
    await this.db.query(
      `update ${this.s}.instances set name = $3, status = 'Pending', input = $4, output = null,
         custom_status = null, failure = null, bookkeeping = $5, history_length = 0, created_at = $6,
         updated_at = $6, version = nextval('${this.s}.instance_versions')
       where hub = $1 and instance_id = $2`,
      [this.hub, row.instanceId, row.name, row.input, JSON.stringify(row.bookkeeping), now],
    );
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
      `update ${this.s}.instances
          set ${[...sets, 'updated_at = $3', `version = nextval('${this.s}.instance_versions')`].join(', ')}
        where hub = $1 and instance_id = $2`,
      values,
    );
  }
}

/** What one episode read: the instance, its due inbox and (when there is something to replay) its history. */
export interface EpisodeSnapshot {
  instance: InstanceRow;
  messages: MessageRow[];
  /** Empty when the instance is finished or nothing is due. */
  history: HistoryEvent[];
}

/** Everything one episode changes, written by one statement. */
export interface EpisodeWrite {
  instanceId: string;
  /** The version the episode replayed: nothing is written if the row changed since. */
  expectedVersion: string;
  /** Executions whose results this episode replayed from memory: they must still exist; they are removed. */
  consumedActivities: string[];
  /** The instance's new column values (all of them). */
  instance: Pick<
    InstanceRow,
    'status' | 'input' | 'output' | 'customStatus' | 'failure' | 'bookkeeping' | 'historyLength'
  >;
  clearHistory: boolean;
  appendHistory: { from: number; events: HistoryEvent[] };
  /** Inbox rows replayed by this episode. */
  deleteMessages: string[];
  /** Also drop the rest of the inbox: all of it (execution ended) or all but raised events (continue-as-new). */
  clearMessages: 'none' | 'all' | 'except-raised';
  /** Pending TimerFired rows of cancelled timers. */
  cancelTimers: number[];
  insertMessages: { event: HistoryEvent; visibleAt: Date }[];
  /** Drop every execution of the instance still to run (execution ended). */
  clearActivities: boolean;
  /** New executions; `leased` ones are inserted already leased to `lease.owner`, who runs them at once. */
  insertActivities: { taskId: number; name: string; input: unknown; leased: boolean }[];
  lease: { owner: string; until: Date } | undefined;
  now: Date;
}

export type EpisodeOutcome =
  | { applied: true; leased: ActivityRow[] }
  | {
      applied: false;
      /** 'gone': no such instance; 'conflict': the row changed, or executions in `missing` are gone. */
      reason: 'gone' | 'conflict';
      missing: string[];
    };

interface DbActivity {
  id: string;
  instance_id: string;
  task_id: number;
  name: string;
  input: { value?: unknown };
}

const toActivity = (r: DbActivity): ActivityRow => ({
  id: r.id,
  instanceId: r.instance_id,
  taskId: r.task_id,
  name: r.name,
  input: 'value' in r.input ? r.input.value : undefined,
});

/** Wrapped so `undefined` (no input) survives the round trip distinct from `null`. */
const wrapInput = (input: unknown): { value?: unknown } => (input === undefined ? {} : { value: input });

export class DurableStore {
  readonly hub: string;
  #s: string;
  #sql: { readEpisode: string; writeEpisode: string; start: string; complete: string };

  constructor(
    private readonly pool: Pool,
    schema: string,
    hub: string,
    logger?: HostLogger,
  ) {
    this.#s = ident(schema);
    this.hub = hub;
    guardPool(pool, logger);
    this.#sql = episodeStatements(this.#s);
  }

  /** Creates the schema and tables if needed; an advisory lock keeps concurrent hosts from racing. */
  async migrate(): Promise<void> {
    await this.#inTransaction(async (client) => {
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
      // Added after the first release: tables created before it get the column here.
      await client.query(`create sequence if not exists ${s}.instance_versions`);
      await client.query(
        `alter table ${s}.instances add column if not exists version bigint not null default 0`,
      );
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
      await client.query(
        `create index if not exists activities_instance on ${s}.activities (hub, instance_id)`,
      );
    });
  }

  /** Runs `work` in one transaction; the callback locks the instance rows it changes. */
  async transaction<T>(work: (tx: InstanceTx) => Promise<T>): Promise<T> {
    return this.#inTransaction((client) => work(new InstanceTx(client, this.#s, this.hub)));
  }

  async #inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const guard = guardClient(client);
    try {
      await client.query('begin');
      const result = await work(client);
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

  /**
   * Creates a Pending instance with its ExecutionStarted in the inbox, in one statement. False when the
   * id is taken (the caller then decides about a restart, in a transaction).
   */
  async createInstance(
    row: Pick<InstanceRow, 'instanceId' | 'name' | 'input' | 'bookkeeping'>,
    started: HistoryEvent,
    now: Date,
  ): Promise<boolean> {
    const result = await this.pool.query(this.#sql.start, [
      this.hub,
      row.instanceId,
      row.name,
      row.input,
      JSON.stringify(row.bookkeeping),
      now,
      JSON.stringify(started),
    ]);
    return result.rowCount === 1;
  }

  /**
   * One consistent read of what an episode needs: the instance, its inbox rows due at `now` and — when
   * something is due or `withHistory` — its history. No lock: the write checks the version instead.
   */
  async readEpisode(
    instanceId: string,
    now: Date,
    withHistory: boolean,
  ): Promise<EpisodeSnapshot | undefined> {
    const { rows } = await this.pool.query<
      DbInstance & { messages: MessageRow[]; history: HistoryEvent[] | null }
    >(this.#sql.readEpisode, [this.hub, instanceId, now, withHistory]);
    const row = rows[0];
    if (!row) return undefined;
    return { instance: toInstance(row), messages: row.messages, history: row.history ?? [] };
  }

  /**
   * Writes an episode's outcome atomically — history, inbox, executions, the instance row — if the
   * instance is still at `expectedVersion` and every consumed execution still exists; otherwise
   * changes nothing and says why.
   */
  async writeEpisode(w: EpisodeWrite): Promise<EpisodeOutcome> {
    const { rows } = await this.pool.query<{
      applied_version: string | null;
      current_version: string | null;
      present: string[];
      leased: DbActivity[];
    }>(this.#sql.writeEpisode, [
      this.hub,
      w.instanceId,
      w.expectedVersion,
      w.consumedActivities,
      w.instance.status,
      w.instance.input,
      w.instance.output,
      w.instance.customStatus,
      w.instance.failure === null ? null : JSON.stringify(w.instance.failure),
      JSON.stringify(w.instance.bookkeeping),
      w.instance.historyLength,
      w.now,
      w.clearHistory,
      w.appendHistory.from,
      JSON.stringify(w.appendHistory.events),
      w.deleteMessages,
      w.clearMessages,
      w.cancelTimers,
      JSON.stringify(w.insertMessages.map((m) => ({ event: m.event, visibleAt: m.visibleAt.toISOString() }))),
      w.clearActivities,
      w.lease?.owner ?? null,
      w.lease?.until ?? null,
      JSON.stringify(
        w.insertActivities.map((a) => ({
          taskId: a.taskId,
          name: a.name,
          input: wrapInput(a.input),
          leased: a.leased && w.lease !== undefined,
        })),
      ),
    ]);
    const row = rows[0]!;
    if (row.applied_version !== null)
      return {
        applied: true,
        leased: row.leased.map((a) => toActivity({ ...a, instance_id: w.instanceId })),
      };
    if (row.current_version === null) return { applied: false, reason: 'gone', missing: [] };
    const present = new Set(row.present);
    return {
      applied: false,
      reason: 'conflict',
      missing: w.consumedActivities.filter((id) => !present.has(id)),
    };
  }

  /** Drops the inbox and the executions of a finished instance (results that arrived after its end). */
  async clearPending(instanceId: string): Promise<void> {
    await this.pool.query(
      `with m as (delete from ${this.#s}.messages where hub = $1 and instance_id = $2)
       delete from ${this.#s}.activities where hub = $1 and instance_id = $2`,
      [this.hub, instanceId],
    );
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

  /**
   * Leases up to `limit` activity executions not leased by a live worker. Executions leased to `owner`
   * itself but not in `known` (what it runs or is recording) are taken too: a write or claim whose
   * commit succeeded but whose answer was lost (connection killed) leased them to this process without
   * it knowing, and they should not wait for their lease to lapse.
   */
  async claimActivities(
    owner: string,
    limit: number,
    leaseMs: number,
    now: Date,
    known: string[] = [],
  ): Promise<ActivityRow[]> {
    if (limit <= 0) return [];
    const { rows } = await this.pool.query<DbActivity>(
      `update ${this.#s}.activities set locked_by = $2, locked_until = $3
        where id in (
          select id from ${this.#s}.activities
           where hub = $1
             and (locked_until is null or locked_until < $4
                  or (locked_by = $2 and not (id = any($6::bigint[]))))
           order by id limit $5 for update skip locked)
        returning id::text as id, instance_id, task_id, name, input`,
      [this.hub, owner, new Date(now.getTime() + leaseMs), now, limit, known],
    );
    return rows.map(toActivity);
  }

  async renewLeases(owner: string, ids: string[], until: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.pool.query(
      `update ${this.#s}.activities set locked_until = $3 where locked_by = $1 and id = any($2::bigint[])`,
      [owner, ids, until],
    );
  }

  /** Hands executions back (all of this owner's, or the given ones) so the next claim takes them at once. */
  async releaseLeases(owner: string, ids?: string[]): Promise<void> {
    await this.pool.query(
      `update ${this.#s}.activities set locked_by = null, locked_until = null
        where hub = $1 and locked_by = $2 and ($3::bigint[] is null or id = any($3::bigint[]))`,
      [this.hub, owner, ids ?? null],
    );
  }

  /**
   * Records an activity's outcome: removes the execution and puts its result in the inbox, atomically.
   * False when the execution is gone (the instance was terminated or purged meanwhile).
   */
  async completeActivity(activity: ActivityRow, result: HistoryEvent, now: Date): Promise<boolean> {
    const outcome = await this.pool.query(this.#sql.complete, [
      activity.id,
      this.hub,
      activity.instanceId,
      JSON.stringify(result),
      now,
    ]);
    return outcome.rowCount === 1;
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
 * The hot statements, one round trip each (an episode is a read and a write; a PostgreSQL commit —
 * a WAL flush — is the most expensive part of either on a small machine, so each does at most one).
 */
function episodeStatements(s: string): {
  readEpisode: string;
  writeEpisode: string;
  start: string;
  complete: string;
} {
  // One snapshot for the three parts, so history, inbox and instance agree with each other. The inbox
  // comes in arrival order: a timer row is inserted when the timer is created but arrives when it fires,
  // so an event raised before that must come first even when one late episode sees both.
  const readEpisode = `
    select i.*, m.messages,
      case when i.status in ('Pending', 'Running') and ($4::boolean or m.messages <> '[]'::jsonb) then
        (select coalesce(jsonb_agg(h.event order by h.seq), '[]'::jsonb) from ${s}.history h
          where h.hub = i.hub and h.instance_id = i.instance_id)
      end as history
    from ${s}.instances i
    cross join lateral (
      select coalesce(jsonb_agg(jsonb_build_object('id', x.id::text, 'event', x.event, 'visibleAt', x.visible_at)
                                order by x.visible_at, x.id), '[]'::jsonb)
             as messages
        from ${s}.messages x
       where x.hub = i.hub and x.instance_id = i.instance_id and x.visible_at <= $3
    ) m
    where i.hub = $1 and i.instance_id = $2`;

  // Every part is gated on \`u\`, the version-checked instance update: either all of it happens or
  // nothing does. The instance row is locked first (lk), then the consumed executions (act), the same
  // order as terminate's transaction, so the two cannot deadlock. A consumed execution that is gone was
  // recorded by someone else (its lease lapsed) or dropped with its instance: the episode must not
  // replay that result a second time.
  const writeEpisode = `
    with lk as (
      select version from ${s}.instances where hub = $1 and instance_id = $2 for no key update
    ), act as (
      select id from ${s}.activities
       where hub = $1 and instance_id = $2 and id = any($4::bigint[]) and exists (select 1 from lk)
       for update
    ), ok as (
      select 1 from lk where version = $3::bigint and (select count(*) from act) = cardinality($4::bigint[])
    ), u as (
      update ${s}.instances
         set status = $5, input = $6, output = $7, custom_status = $8, failure = $9::jsonb,
             bookkeeping = $10::jsonb, history_length = $11, updated_at = $12,
             version = nextval('${s}.instance_versions')
       where hub = $1 and instance_id = $2 and exists (select 1 from ok)
       returning version
    ), dh as (
      delete from ${s}.history
       where hub = $1 and instance_id = $2 and $13::boolean and exists (select 1 from u)
    ), ih as (
      insert into ${s}.history (hub, instance_id, seq, event)
      select $1, $2, $14::int + t.ord - 1, t.e
        from jsonb_array_elements($15::jsonb) with ordinality as t(e, ord)
       where exists (select 1 from u)
    ), dm as (
      delete from ${s}.messages
       where hub = $1 and instance_id = $2 and exists (select 1 from u)
         and (id = any($16::bigint[])
              or $17::text = 'all'
              or ($17::text = 'except-raised' and (event->>'EventType')::int <> 15)
              or ((event->>'EventType')::int = 11 and (event->>'TimerId')::int = any($18::int[])))
    ), im as (
      insert into ${s}.messages (hub, instance_id, event, visible_at)
      select $1, $2, t.e->'event', (t.e->>'visibleAt')::timestamptz
        from jsonb_array_elements($19::jsonb) as t(e)
       where exists (select 1 from u)
    ), da as (
      delete from ${s}.activities
       where hub = $1 and instance_id = $2 and exists (select 1 from u)
         and (id = any($4::bigint[]) or $20::boolean)
    ), ia as (
      insert into ${s}.activities (hub, instance_id, task_id, name, input, locked_by, locked_until)
      select $1, $2, (t.e->>'taskId')::int, t.e->>'name', t.e->'input',
             case when (t.e->>'leased')::boolean then $21::text end,
             case when (t.e->>'leased')::boolean then $22::timestamptz end
        from jsonb_array_elements($23::jsonb) with ordinality as t(e, ord)
       where exists (select 1 from u)
       order by t.ord
      returning id, task_id, name, input, locked_by
    )
    select (select version::text from u) as applied_version,
           (select version::text from lk) as current_version,
           (select coalesce(array_agg(id::text), '{}') from act) as present,
           (select coalesce(jsonb_agg(jsonb_build_object(
                     'id', id::text, 'task_id', task_id, 'name', name, 'input', input) order by id), '[]'::jsonb)
              from ia where locked_by is not null) as leased`;

  const start = `
    with ins as (
      insert into ${s}.instances
        (hub, instance_id, name, status, input, bookkeeping, history_length, created_at, updated_at, version)
      values ($1, $2, $3, 'Pending', $4, $5, 0, $6, $6, nextval('${s}.instance_versions'))
      on conflict (hub, instance_id) do nothing
      returning instance_id
    )
    insert into ${s}.messages (hub, instance_id, event, visible_at)
    select $1, instance_id, $7::jsonb, $6 from ins`;

  const complete = `
    with done as (delete from ${s}.activities where id = $1 returning 1)
    insert into ${s}.messages (hub, instance_id, event, visible_at)
    select $2, $3, $4::jsonb, $5 from done`;

  return { readEpisode, writeEpisode, start, complete };
}

const guardedPools = new WeakSet<Pool>();

/**
 * pg emits 'error' on a client whose backend went away (pg_terminate_backend, restart, failover) —
 * also between statements and on a client that was only just connected. pg-pool listens only while a
 * client is idle in the pool; for a client handed out by `pool.connect()` there is a window before the
 * caller's own listener is attached (ReadyForQuery and the FATAL can arrive in one TCP chunk), and an
 * 'error' with no listener would end the whole host. So every client gets a permanent listener when it
 * is created; a broken client is then discarded on release (pg marks it not queryable).
 * The log says what happened by SQLSTATE only: a driver message may quote statement values.
 */
export function guardPool(pool: Pool, logger?: HostLogger): void {
  if (guardedPools.has(pool)) return;
  guardedPools.add(pool);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  pool.on('error', (error) => {
    logger?.warn(`Durable store: an idle connection was lost (${safeErrorText(error)}); it is replaced`);
  });
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
