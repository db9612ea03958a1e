/**
 * `npm run bench catalog [--rows N] [--quick] [--iterations N] [--duration S] [--rounds N] [--keep]
 *                        [--database URL] [--only http] [--profile DIR]`
 *
 * From a clean checkout, with only PostgreSQL (postgres://postgres@127.0.0.1:5432) and Redis
 * (127.0.0.1:6379, or $REDIS_URL) running: makes a scratch database, migrates it, generates the catalog,
 * measures, and drops it. Every figure is printed beside a baseline measured in the same run:
 *
 * 1. search at --rows products (default 1M) for rare terms, common terms and two-term queries: p50/p95
 *    through SearchService (unit of work, read pool, mapping, cursor) and the same statement (text and
 *    bound values) sent directly on a pg connection, each term back to back both ways; terms of all
 *    kinds are interleaved, so a cached generic plan would show up;
 *    Beside them, the global-ranking baseline: the same first page ranked over every match through the
 *    GIN index, timed in the same rotation, and how many of our first page's hits it also returns;
 * 2. the old platform's search (to_tsvector computed per row, no index) on a 100k-product tenant
 *    against SearchService on the same tenant and queries, the same number of samples on both sides;
 * 3. cached product detail over HTTP through the local Functions host (autocannon, 50 connections)
 *    against a bare node:http server doing the cached read's Redis work only (one MGET of generations
 *    and value per batch of concurrent requests, as the cache batches), its body checked to be the
 *    host's; also through a minimal node:http wrapper calling the same handler (what the route costs
 *    without the host); each server in its own process, autocannon in this one, order rotating.
 *
 * `--database URL` reuses an already generated database (kept with `--keep`) and never drops it.
 *
 * `--only http` runs the third comparison alone, on a small generated tenant (--rows, default
 * 1000) unless `--database` names one that already has products: under a minute, one round of 10 s
 * runs by default. Each server's own CPU time per request is printed too (read from /proc): on a
 * shared machine it moves much less than req/s. `--profile DIR` starts the three servers with
 * `--cpu-prof --cpu-prof-dir DIR` (one .cpuprofile per server process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { catalogVocabulary, generateCatalog, type VocabularyWord } from '../../infra/datagen/catalog.js';
import { closeRedis } from '../../shared/cache/redis.js';
import { resetSettingsForTests } from '../../shared/config/index.js';
import { closeOrms } from '../../shared/db/orm.js';
import {
  closeReadPool,
  readPoolConfig,
  readQueryConfig,
  type ReadStatement,
} from '../../shared/db/read-pool.js';
import { runUnitOfWork } from '../../shared/db/unit-of-work.js';
import { silentLogger } from '../../shared/logging/logger.js';
import type { PageBody, SearchHitBody } from '../../shared/schemas/catalog.js';
import { catalogKeys, productGenerations } from '../../shared/services/catalog/catalog-cache.js';
import { ProductService } from '../../shared/services/catalog/product-service.js';
import { tsQueryExpression } from '../../shared/services/catalog/search-query.js';
import { SearchService } from '../../shared/services/catalog/search-service.js';
import { searchWindowStatement } from '../../shared/services/catalog/search-statement.js';
import type { DomainContext } from '../../shared/services/context.js';
import { Progress } from './progress.js';
import { alternating, benchRedisUrl, describeServices, loadLine, removeRedisKeys } from './services.js';
import { createScratchDatabase, percentile } from './scratch-db.js';

const TENANT_BIG = '0b0b0b0b-0000-4000-8000-000000000001';
const TENANT_100K = '0b0b0b0b-0000-4000-8000-000000000002';
const BASELINE_ROWS = 100_000;
/** The tenant `--only http` generates: one product is read, the rest only make it a realistic catalog. */
const HTTP_ONLY_ROWS = 1_000;
const PAGE_SIZE = 20;

type Kind = 'rare' | 'common' | 'two-term';
const KINDS: Kind[] = ['rare', 'common', 'two-term'];

interface Options {
  rows: number;
  iterations: number;
  durationSeconds: number;
  httpRounds: number;
  baselineRuns: number;
  keep: boolean;
  database: string | undefined;
  only: 'http' | undefined;
  profileDir: string | undefined;
}

function options(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      rows: { type: 'string' },
      quick: { type: 'boolean' },
      iterations: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      keep: { type: 'boolean' },
      database: { type: 'string' },
      only: { type: 'string' },
      profile: { type: 'string' },
    },
  });
  const quick = values.quick === true;
  if (values.only !== undefined && values.only !== 'http')
    throw new Error(`--only takes "http" (the other parts need the large datasets): ${values.only}`);
  const httpOnly = values.only === 'http';
  const int = (v: string | undefined, fallback: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`not a positive integer: ${v}`);
    return n;
  };
  return {
    rows: int(values.rows, httpOnly ? HTTP_ONLY_ROWS : quick ? BASELINE_ROWS : 1_000_000),
    iterations: int(values.iterations, quick ? 40 : 100),
    durationSeconds: int(values.duration, quick ? 3 : 10),
    httpRounds: int(values.rounds, quick || httpOnly ? 1 : 2),
    baselineRuns: quick ? 10 : 20,
    keep: values.keep === true,
    database: values.database,
    only: httpOnly ? 'http' : undefined,
    profileDir: values.profile === undefined ? undefined : path.resolve(values.profile),
  };
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const ratio = (a: number, b: number): string => (a / b).toFixed(2);

function stats(samples: number[]): { p50: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
}

function context(em: DomainContext['em'], tenantId: string): DomainContext {
  return { em, tenantId, log: silentLogger, correlationId: 'bench' };
}

/** Terms by expected share of descriptions (the generator's Zipf law), like ANCHORS.md's queries. */
function pickTerms(vocabulary: VocabularyWord[]): Record<Kind, string[]> {
  const byDistance = (target: number, exclude: Set<string>) =>
    [...vocabulary]
      .filter((w) => !exclude.has(w.word))
      .sort(
        (a, b) =>
          Math.abs(Math.log(a.descriptionFrequency / target)) -
          Math.abs(Math.log(b.descriptionFrequency / target)),
      );
  const used = new Set<string>();
  const take = (target: number, n: number): string[] => {
    const words = byDistance(target, used)
      .slice(0, n)
      .map((w) => w.word);
    words.forEach((w) => used.add(w));
    return words;
  };
  const rare = take(0.001, 5); // ~1k matches per 1M
  const common = take(0.48, 5); // ~480k per 1M
  const twoTerm: string[] = [];
  for (const first of [0.2, 0.25, 0.3, 0.35, 0.4]) {
    const [a] = take(first, 1);
    const df = vocabulary.find((w) => w.word === a)!.descriptionFrequency;
    const [b] = take(0.023 / df, 1); // both: ~23k per 1M
    twoTerm.push(`${a} ${b}`);
  }
  return { rare, common, 'two-term': twoTerm };
}

async function countMatches(client: pg.Client, tenantId: string, q: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `select count(*)::int as n from products
      where tenant_id = $1 and status = 'active' and search @@ websearch_to_tsquery('english', $2)`,
    [tenantId, q],
  );
  return rows[0]!.n;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

function serviceSearch(tenantId: string, q: string): Promise<PageBody<SearchHitBody>> {
  return runUnitOfWork('read', (em) =>
    new SearchService(context(em, tenantId)).search({
      q,
      prefix: false,
      pageSize: PAGE_SIZE,
      cursor: undefined,
    }),
  );
}

/** The statement the service sends for the first page: text and bound values (see search-statement.ts). */
function firstPageStatement(tenantId: string, q: string): ReadStatement {
  return searchWindowStatement({
    tenantId,
    query: tsQueryExpression(q, false),
    window: { kind: 'open' },
    limit: PAGE_SIZE + 1,
  });
}

/** Statements sent by any node-postgres client of this process (ORM and read pool alike) during `fn`. */
async function countStatements<T>(fn: () => Promise<T>): Promise<{ result: T; statements: number }> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  let statements = 0;
  proto.query = function (this: unknown, ...args: unknown[]) {
    statements++;
    return original.apply(this, args);
  };
  try {
    return { result: await fn(), statements };
  } finally {
    proto.query = original;
  }
}

interface SearchFigures {
  matches: number[];
  service: number[];
  raw: number[];
  /** The same first page ranked over every match (GIN bitmap, ts_rank of all): the global baseline. */
  global: number[];
  /** Per term: how many of our first page's hits the global ranking's first page also has. */
  overlap: number[];
  /** service − raw of the same term in the same round: the service's own cost, robust to drift. */
  paired: number[];
  /** Client (this process) CPU microseconds, summed over the measured runs. */
  cpu: { service: number; raw: number };
}

/**
 * The baseline is the service's own statement — same text, same bound values, same prepared-statement
 * name — sent on one node-postgres connection with the read pool's connection settings (custom plans
 * forced), without a pool checkout, a unit of work or mapping. Before measuring, every term is checked
 * to send exactly one statement through the service and to return the same hits both ways.
 */
async function measureSearch(
  databaseUrl: string,
  tenantId: string,
  terms: Record<Kind, string[]>,
  iterations: number,
): Promise<Record<Kind, SearchFigures>> {
  const raw = new pg.Client(readPoolConfig(databaseUrl, 1)); // a Client ignores the pool-only fields
  await raw.connect();
  try {
    const figures = {} as Record<Kind, SearchFigures>;
    const statements = new Map<string, pg.QueryConfig>();
    await serviceSearch(tenantId, terms.rare[0]!); // starts the ORM (its own statements) and the pools
    for (const kind of KINDS) {
      figures[kind] = {
        matches: [],
        service: [],
        raw: [],
        global: [],
        overlap: [],
        paired: [],
        cpu: { service: 0, raw: 0 },
      };
      for (const q of terms[kind]) {
        figures[kind].matches.push(await countMatches(raw, tenantId, q));
        const statement = firstPageStatement(tenantId, q);
        statements.set(q, readQueryConfig(statement));
        const { result, statements: sent } = await countStatements(() => serviceSearch(tenantId, q));
        const direct = await raw.query<{ id: string | null }>(readQueryConfig(statement));
        const ids = direct.rows.flatMap((r) => (r.id === null ? [] : [r.id])).slice(0, PAGE_SIZE);
        if (sent !== 1 || JSON.stringify(result.items.map((i) => i.id)) !== JSON.stringify(ids)) {
          throw new Error(`search for ${q}: ${sent} statements, or not the baseline's hits`);
        }
        const everything = await raw.query<{ id: string }>(globalRanking(tenantId, q));
        const globalIds = new Set(everything.rows.map((r) => r.id));
        figures[kind].overlap.push(ids.filter((id) => globalIds.has(id)).length);
      }
    }
    // Enough unrecorded rounds for the JIT to settle on both paths (the first hundred calls are slower).
    const warmup = 12;
    const total = 3 * (iterations + warmup) * KINDS.length * terms.rare.length;
    const progress = new Progress('search', total);
    let done = 0;
    type Path = 'service' | 'raw' | 'global';
    const once = async (path: Path, q: string): Promise<{ time: number; cpu: number }> => {
      const config = statements.get(q)!;
      const cpu = process.cpuUsage();
      const time =
        path === 'service'
          ? await timed(() => serviceSearch(tenantId, q))
          : path === 'raw'
            ? await timed(() => raw.query(config))
            : await timed(() => raw.query(globalRanking(tenantId, q)));
      const used = process.cpuUsage(cpu);
      progress.tick(++done);
      return { time, cpu: used.user + used.system };
    };
    // Each term runs through the service and directly back to back, so drift on a shared machine hits
    // both alike; which path goes first alternates by round (the second run of a term may find its pages
    // in shared buffers). Kinds are interleaved, so a plan cached for one kind would show up on the others.
    const paths: Path[] = ['service', 'raw', 'global'];
    for (let round = 0; round < iterations + warmup; round++) {
      // Which path goes first rotates by round (the first run of a term may load its pages).
      const order = paths.map((_, i) => paths[(i + round) % paths.length]!);
      for (let t = 0; t < terms.rare.length; t++) {
        for (const kind of KINDS) {
          const q = terms[kind][t]!;
          const runs = {
            service: { time: 0, cpu: 0 },
            raw: { time: 0, cpu: 0 },
            global: { time: 0, cpu: 0 },
          };
          for (const path of order) runs[path] = await once(path, q);
          if (round < warmup) continue;
          const f = figures[kind];
          f.service.push(runs.service.time);
          f.raw.push(runs.raw.time);
          f.global.push(runs.global.time);
          f.paired.push(runs.service.time - runs.raw.time);
          f.cpu.service += runs.service.cpu;
          f.cpu.raw += runs.raw.cpu;
        }
      }
    }
    return figures;
  } finally {
    await raw.end();
  }
}

/**
 * The global-ranking baseline: the first page of every match ranked by the same `ts_rank` of the
 * stored vector, found through the GIN index — what "ranking all matches" costs (ANCHORS.md's ~314 ms
 * at 1M for a common term). Unnamed, with its values, so each run is planned for its own term.
 */
function globalRanking(tenantId: string, q: string): pg.QueryConfig {
  return {
    text: `select p.id from products p, websearch_to_tsquery('english', $2) q
            where p.tenant_id = $1 and p.status = 'active' and p.search @@ q
            order by ts_rank(p.search, q) desc, p.id limit ${PAGE_SIZE}`,
    values: [tenantId, q],
  };
}

/**
 * The old platform's search against ours on the same tenant and queries: the same number of samples
 * on both sides, taken in pairs whose order alternates, after one unrecorded run of each per query.
 */
async function measureOldWay(
  raw: pg.Client,
  tenantId: string,
  queries: string[],
  samples: number,
): Promise<{ old: number[]; ours: number[]; overlap: number[] }> {
  const sql = `select p.id, p.name, ts_rank(to_tsvector('english', p.description), q) as rank
                 from products p, websearch_to_tsquery('english', $2) q
                where p.tenant_id = $1 and p.status = 'active' and to_tsvector('english', p.description) @@ q
                order by rank desc limit ${PAGE_SIZE}`;
  const overlap: number[] = [];
  for (const q of queries) {
    const oldIds = new Set((await raw.query<{ id: string }>(sql, [tenantId, q])).rows.map((r) => r.id));
    const ours = await serviceSearch(tenantId, q);
    overlap.push(ours.items.filter((i) => oldIds.has(i.id)).length);
  }
  const old: number[] = [];
  const ours: number[] = [];
  const progress = new Progress('old-way search', samples);
  for (let i = 0; i < samples; i++) {
    const q = queries[i % queries.length]!;
    const runOld = async (): Promise<void> => void old.push(await timed(() => raw.query(sql, [tenantId, q])));
    const runOurs = async (): Promise<void> => void ours.push(await timed(() => serviceSearch(tenantId, q)));
    await alternating(i, runOld, runOurs);
    progress.tick(i + 1);
  }
  return { old, ours, overlap };
}

interface HttpFigures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** The server process's CPU time (user + system) per answered request, µs; NaN where unknown. */
  cpuPerRequest: number;
}

/** A process's CPU time so far in µs (utime + stime of /proc/<pid>/stat), undefined off Linux. */
async function processCpuMicros(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux build in practice (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

async function startServer(
  mode: 'host' | 'wrapper' | 'bare',
  env: NodeJS.ProcessEnv,
  profileDir: string | undefined,
): Promise<{ port: number; child: ChildProcess }> {
  const script = path.join(__dirname, 'catalog', 'http-server.js');
  const flags = profileDir
    ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${mode}-${Date.now()}.cpuprofile`]
    : [];
  const child = spawn(process.execPath, [...flags, script, mode], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`${mode} server did not start`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /READY (\d+)/.exec(buffer);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${mode} server exited with ${code}`));
    });
  });
  return { port, child };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function load(
  url: string,
  headers: Record<string, string>,
  seconds: number,
  pid: number | undefined,
): Promise<HttpFigures> {
  // A short unrecorded run first: JIT, connection set-up, the host's first tenant lookup.
  await autocannon({ url, headers, connections: 50, duration: 1 });
  const cpuBefore = await processCpuMicros(pid);
  const result = await autocannon({ url, headers, connections: 50, duration: seconds });
  const cpuAfter = await processCpuMicros(pid);
  const answered = result.requests.total;
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    cpuPerRequest:
      cpuBefore === undefined || cpuAfter === undefined || answered === 0
        ? NaN
        : (cpuAfter - cpuBefore) / answered,
  };
}

type Server = 'bare' | 'wrapper' | 'host';

/** Rounds of bare → wrapper → host, so drift on a shared machine hits every server alike. */
async function measureHttp(
  env: NodeJS.ProcessEnv,
  tenantId: string,
  productId: string,
  expectedName: string,
  seconds: number,
  rounds: number,
  profileDir: string | undefined,
): Promise<Record<Server, HttpFigures[]>> {
  const headers = { 'x-tenant-id': tenantId };
  const out: Record<Server, HttpFigures[]> = { bare: [], wrapper: [], host: [] };
  const bodies = new Map<Server, string>();
  const servers: Server[] = ['bare', 'wrapper', 'host'];
  for (let round = 0; round < rounds; round++) {
    // The order rotates by round, so no server always runs first (cold machine) or last.
    for (const mode of servers.map((_, i) => servers[(i + round) % servers.length]!)) {
      const server = await startServer(mode, env, profileDir);
      try {
        const url =
          mode === 'bare'
            ? `http://127.0.0.1:${server.port}/`
            : `http://127.0.0.1:${server.port}/api/products/${productId}`;
        // Every server, the baseline included, must answer the product before it is timed.
        const check = await fetch(url, { headers });
        const text = await check.text();
        let body: { id?: string; name?: string } = {};
        try {
          body = JSON.parse(text) as typeof body;
        } catch {
          /* reported below */
        }
        if (check.status !== 200 || body.name !== expectedName || body.id !== productId) {
          throw new Error(`${mode}: GET ${url} answered ${check.status} ${text.slice(0, 200)}`);
        }
        bodies.set(mode, text);
        out[mode].push(await load(url, headers, seconds, server.child.pid));
      } finally {
        await stopServer(server.child);
      }
    }
  }
  // The baseline sends what the host sends, byte for byte: the same work's result.
  if (bodies.get('bare') !== bodies.get('host'))
    throw new Error(`bare and host bodies differ:\n${bodies.get('bare')}\n${bodies.get('host')}`);
  return out;
}

function combine(runs: HttpFigures[]): HttpFigures & { perRound: number[] } {
  const mean = (f: (r: HttpFigures) => number): number => runs.reduce((a, r) => a + f(r), 0) / runs.length;
  return {
    requestsPerSecond: mean((r) => r.requestsPerSecond),
    p50: mean((r) => r.p50),
    p99: Math.max(...runs.map((r) => r.p99)),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    cpuPerRequest: mean((r) => r.cpuPerRequest),
    perRound: runs.map((r) => Math.round(r.requestsPerSecond)),
  };
}

/** Part 3: cached product detail over HTTP, bare → wrapper → host, and the ratios. */
async function measureAndPrintHttp(raw: pg.Client, env: NodeJS.ProcessEnv, opts: Options): Promise<void> {
  const { rows: products } = await raw.query<{ id: string; name: string }>(
    `select id, name from products where tenant_id = $1 and status = 'active' order by created_at desc limit 1`,
    [TENANT_BIG],
  );
  const product = products[0]!;
  await runUnitOfWork('read', (em) => new ProductService(context(em, TENANT_BIG)).get(product.id)); // cached now
  const runs = await measureHttp(
    {
      ...env,
      BENCH_BARE_KEYS: JSON.stringify([
        ...productGenerations(TENANT_BIG, product.id),
        catalogKeys.product(TENANT_BIG, product.id),
      ]),
    },
    TENANT_BIG,
    product.id,
    product.name,
    opts.durationSeconds,
    opts.httpRounds,
    opts.profileDir,
  );
  const http = { bare: combine(runs.bare), host: combine(runs.host), wrapper: combine(runs.wrapper) };
  console.log(
    `\nCached product detail over HTTP, autocannon 50 connections, ${opts.durationSeconds} s per run, ` +
      `${opts.httpRounds} round(s), server order rotating by round (mean req/s; p99 = worst run; server CPU µs per request); ` +
      `bodies checked: the baseline answers the host's bytes`,
  );
  for (const [name, f] of [
    ['bare node:http + batched MGET (baseline)', http.bare],
    ['GET /api/products/{id}, local Functions host', http.host],
    ['GET /api/products/{id}, minimal node:http wrapper', http.wrapper],
  ] as const) {
    console.log(
      `${name.padEnd(50)} ${f.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${f.p50.toFixed(1)} ms  p99 ${f.p99} ms  CPU ${f.cpuPerRequest.toFixed(0)} µs/req  non-2xx ${f.non2xx}  errors ${f.errors}  runs ${f.perRound.join(', ')}`,
    );
  }
  console.log(
    `ratio host / bare: ${ratio(http.host.requestsPerSecond, http.bare.requestsPerSecond)}` +
      `   (wrapper / bare: ${ratio(http.wrapper.requestsPerSecond, http.bare.requestsPerSecond)})` +
      `   CPU per request host / bare: ${ratio(http.host.cpuPerRequest, http.bare.cpuPerRequest)}`,
  );
  if (opts.profileDir) console.log(`CPU profiles in ${opts.profileDir}`);
}

export async function run(args: string[]): Promise<void> {
  const opts = options(args);
  const redisUrl = benchRedisUrl();
  const prefix = `bench:catalog:${randomBytes(4).toString('hex')}:`;
  const started = Date.now();

  const scratch = opts.database
    ? { url: opts.database, auditUrl: opts.database, drop: async () => undefined }
    : await createScratchDatabase('catalog');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    APP_ENV: 'local',
    DATABASE_URL: scratch.url,
    AUDIT_DATABASE_URL: scratch.auditUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    APPLICATIONINSIGHTS_CONNECTION_STRING: '',
  };
  Object.assign(process.env, env);
  resetSettingsForTests();
  const raw = new pg.Client({ connectionString: scratch.url });
  await raw.connect();
  try {
    const tenantRows = async (tenantId: string): Promise<number> =>
      (
        await raw.query<{ n: number }>('select count(*)::int as n from products where tenant_id = $1', [
          tenantId,
        ])
      ).rows[0]!.n;
    const generate = async (tenantId: string, rows: number, seed: number): Promise<void> => {
      if ((await tenantRows(tenantId)) > 0) return;
      const progress = new Progress(`generate ${rows} products`, rows);
      const result = await generateCatalog({
        databaseUrl: scratch.url,
        tenantId,
        products: rows,
        seed,
        onProgress: (done) => progress.tick(done),
        onPhase: (phase) => process.stderr.write(`  ${phase}…\n`),
      });
      console.log(
        `generated ${rows} products (${result.reviews} reviews, ${result.customers} customers) in ${result.seconds.toFixed(0)} s`,
      );
    };
    console.log(describeServices({ redisUrl, databaseUrl: scratch.url }));
    console.log(`at start: ${loadLine()}`);
    await generate(TENANT_BIG, opts.rows, 1);
    if (opts.only === 'http') {
      await measureAndPrintHttp(raw, env, opts);
      console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s; at end: ${loadLine()}`);
      return;
    }
    const baselineTenant = opts.rows === BASELINE_ROWS ? TENANT_BIG : TENANT_100K;
    if (baselineTenant !== TENANT_BIG) await generate(TENANT_100K, BASELINE_ROWS, 2);

    const terms = pickTerms(await catalogVocabulary(scratch.url));

    // 1. Search at --rows.
    const search = await measureSearch(scratch.url, TENANT_BIG, terms, opts.iterations);
    console.log(
      `\nSearch, ${opts.rows} products, first page of ${PAGE_SIZE}, ${opts.iterations} runs per term`,
    );
    console.log(
      `${opts.iterations} runs per term × ${terms.rare.length} terms = ${opts.iterations * terms.rare.length} samples per kind and path; path order rotating by round`,
    );
    console.log(
      'kind      | matches (median) | service p50 / p95 ms | raw SQL p50 / p95 ms | service/raw p50, p95 | paired service−raw p50 ms | client CPU µs/query: service, raw | global ranking p50 / p95 ms | global/service p50, p95 | first-page overlap with global (per term, of 20)',
    );
    for (const kind of KINDS) {
      const f = search[kind];
      const s = stats(f.service);
      const r = stats(f.raw);
      const g = stats(f.global);
      const matches = [...f.matches].sort((a, b) => a - b)[Math.floor(f.matches.length / 2)]!;
      console.log(
        `${kind.padEnd(9)} | ${String(matches).padStart(16)} | ${`${fmt(s.p50)} / ${fmt(s.p95)}`.padStart(20)} | ${`${fmt(r.p50)} / ${fmt(r.p95)}`.padStart(20)} | ${`${ratio(s.p50, r.p50)}, ${ratio(s.p95, r.p95)}`.padEnd(20)} | ${fmt(stats(f.paired).p50).padStart(25)} | ${(f.cpu.service / f.service.length).toFixed(0)}, ${(f.cpu.raw / f.raw.length).toFixed(0)} | ${`${fmt(g.p50)} / ${fmt(g.p95)}`.padStart(27)} | ${`${ratio(g.p50, s.p50)}, ${ratio(g.p95, s.p95)}`.padEnd(23)} | ${f.overlap.join(', ')}`,
      );
    }
    console.log(`terms: ${JSON.stringify(terms)}`);
    console.log(
      `matches per term: ${JSON.stringify(Object.fromEntries(KINDS.map((k) => [k, search[k].matches])))}`,
    );

    // 2. The old platform's way at 100k.
    const oldWay = await measureOldWay(raw, baselineTenant, terms['two-term'], opts.baselineRuns);
    const o = stats(oldWay.old);
    const n = stats(oldWay.ours);
    const samples = oldWay.old.length;
    // A p95 needs 20 samples or more; with fewer the printed figure is the maximum, and says so.
    const high = samples >= 20 ? 'p95' : 'max';
    const top = (values: number[]): number => (samples >= 20 ? stats(values).p95 : Math.max(...values));
    console.log(
      `\nOld platform's search (to_tsvector per row, no index) vs ours, ${BASELINE_ROWS} products, two-term queries, ` +
        `${samples} samples each side, in pairs alternating which goes first`,
    );
    console.log(`old way p50 / ${high}: ${fmt(o.p50)} / ${fmt(top(oldWay.old))} ms`);
    console.log(`ours    p50 / ${high}: ${fmt(n.p50)} / ${fmt(top(oldWay.ours))} ms`);
    console.log(
      `speed-up: ${(o.p50 / n.p50).toFixed(0)}× at p50, ${(top(oldWay.old) / top(oldWay.ours)).toFixed(0)}× at ${high}; ` +
        `first-page overlap with the old way (it ranks descriptions only): ${oldWay.overlap.join(', ')} of ${PAGE_SIZE}`,
    );

    // 3. Cached product detail over HTTP.
    await measureAndPrintHttp(raw, env, opts);
    console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s; at end: ${loadLine()}`);
  } finally {
    await raw.end();
    await closeOrms();
    await closeReadPool();
    await closeRedis();
    await removeRedisKeys(redisUrl, prefix).catch(() => undefined);
    if (opts.keep || opts.database) console.log(`kept database ${scratch.url}`);
    else await scratch.drop();
  }
}
