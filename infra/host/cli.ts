#!/usr/bin/env node
// `npm start`: the local Functions host with embedded defaults for every absent setting.
//
//   node dist/infra/host/cli.js [--port N] [--host ADDR] [--no-embedded] [--[no-]migrate] [--[no-]seed]
//                               [--no-local-settings] [--ready-json] [--replace-with FILE]...
//
// Without --no-embedded, every absent setting gets its local default (embedded PostgreSQL, Azurite, fake
// Stripe, generated secrets, in-memory Redis); migrations and the sample data are applied. With it, the
// environment must provide the settings; migrations still run unless --no-migrate.
// --ready-json prints one machine-readable line `{"event":"host-ready",…}` when serving (the e2e helper
// waits for it, and reads the host keys from it). Ctrl-C / SIGTERM stop gracefully; a second signal forces the exit (children still get
// signalled by the exit hook).
// --replace-with FILE (test-only, repeatable; relative to the app root) loads FILE after the app's modules
// and lets its registrations replace the app's functions of the same name: a changed orchestrator
// "deployed" over instances in flight (tests/reliability/orchestrator-deploy.test.ts).
import { startHost, type LocalHost } from './host.js';
import { safeErrorReport } from './durable/errors.js';
import { flushConsoleLog } from './log.js';

interface CliArgs {
  port?: number;
  hostname?: string;
  embedded: boolean;
  migrate?: boolean;
  seed?: boolean;
  localSettings: boolean;
  readyJson: boolean;
  replaceWith: string[];
}

function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { embedded: true, localSettings: true, readyJson: false, replaceWith: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--port' || arg === '-p') args.port = Number(value());
    else if (arg.startsWith('--port=')) args.port = Number(arg.slice(7));
    else if (arg === '--host') args.hostname = value();
    else if (arg === '--no-embedded') args.embedded = false;
    else if (arg === '--no-migrate') args.migrate = false;
    else if (arg === '--migrate') args.migrate = true;
    else if (arg === '--no-local-settings') args.localSettings = false;
    else if (arg === '--no-seed') args.seed = false;
    else if (arg === '--seed') args.seed = true;
    else if (arg === '--ready-json') args.readyJson = true;
    else if (arg === '--replace-with') args.replaceWith.push(value());
    else if (arg === '--help' || arg === '-h') {
      console.log(
        'Usage: node dist/infra/host/cli.js [--port N] [--host ADDR] [--no-embedded] [--[no-]migrate] [--[no-]seed] [--no-local-settings] [--ready-json] [--replace-with FILE]...',
      );
      process.exit(0);
    } else throw new Error(`Unknown argument ${arg}`);
  }
  if (args.port !== undefined && (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535))
    throw new Error('--port must be an integer between 0 and 65535');
  return args;
}

function banner(host: LocalHost): string {
  const lines = [
    '',
    '  ecommerce-api local host is running',
    '',
    `  API        ${host.baseUrl}`,
    `  Docs       ${host.baseUrl}/docs`,
    `  Health     ${host.baseUrl}/health`,
  ];
  const sample = host.sampleData;
  if (sample) {
    lines.push(
      '',
      '  Sample data (local only):',
      `  Tenant     ${sample.tenantId} (slug ${sample.tenantSlug}) — send it as X-Tenant-ID`,
      `  Customer   ${sample.customer.email} / ${sample.customer.password}`,
      `  Admin      ${sample.admin.email} / ${sample.admin.password}`,
    );
    if (sample.adminToken) lines.push(`  X-Admin-Token  ${sample.adminToken}`);
  }
  // Like the Functions host's keys: /admin/… needs the master key, the durable webhooks the system key
  // (either as `x-functions-key` or `code=`).
  lines.push(
    '',
    `  Master key           ${host.keys.master}   (/admin/…)`,
    `  durabletask key      ${host.keys.durableTask}   (/runtime/webhooks/durabletask/…)`,
  );
  if (host.embedded && host.embedded.notes.length > 0)
    lines.push('', ...host.embedded.notes.map((n) => `  · ${n}`));
  lines.push('', '  Ctrl-C to stop.', '');
  return lines.join('\n');
}

/** SQLSTATEs of a PostgreSQL session that ended under us (operator intervention, connection failure). */
const LOST_CONNECTION = /^(57P0[1-3]|08\d{3})$/;

/**
 * A pg client whose backend is terminated between two statements emits 'error' outside any query; if
 * that client has no listener at that instant the event would end the whole host. The host's own
 * durable store gives each of its clients a permanent listener (infra/host/durable/store.ts
 * `guardPool`), so it never gets here; this is the last line for pools the app's modules own. The
 * connection is dead and will be discarded by its pool; the work on it fails and is retried. Anything
 * else still ends the process, as an uncaught error should. Only the SQLSTATE is printed.
 */
function surviveLostDatabaseConnections(): void {
  process.on('uncaughtException', (error: Error & { code?: unknown }) => {
    flushConsoleLog();
    if (typeof error.code === 'string' && LOST_CONNECTION.test(error.code)) {
      console.error(
        `database connection lost (${error.code}); the connection is discarded and the work retried`,
      );
      return;
    }
    console.error(safeErrorReport(error));
    process.exit(1);
  });
}

async function main(): Promise<void> {
  surviveLostDatabaseConnections();
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const running: { host?: LocalHost } = {};
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    flushConsoleLog();
    const host = running.host;
    if (signals > 1 || !host) {
      console.error(`\n${signal} again: exiting now`);
      process.exit(130);
    }
    console.log(`\n${signal} received: stopping (press Ctrl-C again to force)`);
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(safeErrorReport(error));
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const host = await startHost({
    embedded: args.embedded,
    localSettings: args.localSettings,
    ...(args.port !== undefined ? { port: args.port } : {}),
    ...(args.hostname ? { hostname: args.hostname } : {}),
    ...(args.migrate !== undefined ? { migrate: args.migrate } : {}),
    ...(args.seed !== undefined ? { seed: args.seed } : {}),
    ...(args.replaceWith.length > 0 ? { replacements: args.replaceWith } : {}),
    ...(args.embedded ? {} : { migrate: args.migrate ?? true, seed: args.seed ?? false }),
  });
  running.host = host;
  // The host's own lines are queued (log.ts); the banner comes after them.
  flushConsoleLog();
  console.log(banner(host));
  console.log(`  Started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (args.readyJson)
    console.log(
      JSON.stringify({
        event: 'host-ready',
        url: host.url,
        baseUrl: host.baseUrl,
        port: host.port,
        masterKey: host.keys.master,
        durableTaskKey: host.keys.durableTask,
      }),
    );
}

main().catch((error: unknown) => {
  flushConsoleLog();
  console.error(`The local host could not start:\n${safeErrorReport(error)}`);
  process.exit(1);
});
