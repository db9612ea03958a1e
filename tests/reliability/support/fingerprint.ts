import type pg from 'pg';

/**
 * Per-table row count and checksum (md5 of every row's text form, in a fixed order) of whole
 * databases: the app schema, the durable host's schema and the audit log. Two equal fingerprints mean
 * no row was added, removed or changed anywhere — including in another tenant.
 */
export type Fingerprint = Map<string, { rows: number; md5: string }>;

const SKIP = new Set(['public.mikro_orm_migrations']);

async function tablesOf(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `select table_schema || '.' || table_name as name from information_schema.tables
      where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')
      order by 1`,
  );
  return rows.map((r) => r.name).filter((name) => !SKIP.has(name));
}

function quoted(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

export class Fingerprinter {
  private statements = new Map<pg.Pool, { sql: string; prefix: string }>();

  constructor(private readonly pools: { label: string; pool: pg.Pool }[]) {}

  private async statement(label: string, pool: pg.Pool): Promise<string> {
    let entry = this.statements.get(pool);
    if (!entry) {
      const tables = await tablesOf(pool);
      const sql = tables
        .map(
          (t) =>
            `select '${t}' as t, count(*)::int as n, md5(coalesce(string_agg(x::text, ',' order by x::text), '')) as h from ${quoted(t)} x`,
        )
        .join(' union all ');
      entry = { sql, prefix: label };
      this.statements.set(pool, entry);
    }
    return entry.sql;
  }

  async take(): Promise<Fingerprint> {
    const out: Fingerprint = new Map();
    for (const { label, pool } of this.pools) {
      const sql = await this.statement(label, pool);
      if (!sql) continue;
      const { rows } = await pool.query<{ t: string; n: number; h: string }>(sql);
      for (const r of rows) out.set(`${label}:${r.t}`, { rows: r.n, md5: r.h });
    }
    return out;
  }

  /** Tables whose count or checksum differ (with the counts), empty when equal. */
  static diff(before: Fingerprint, after: Fingerprint): string[] {
    const changed: string[] = [];
    for (const name of new Set([...before.keys(), ...after.keys()])) {
      const a = before.get(name);
      const b = after.get(name);
      if (!a || !b || a.rows !== b.rows || a.md5 !== b.md5)
        changed.push(`${name} (${a?.rows ?? '-'} → ${b?.rows ?? '-'} rows)`);
    }
    return changed;
  }
}
