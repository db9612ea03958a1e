import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { HostLogger } from '../types.js';
import { ManagedChild, processCommandLine } from './child-process.js';

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface EmbeddedAzurite {
  blobEndpoint: string;
  connectionString: string;
  stop(): Promise<void>;
}

export function azuriteConnectionString(blobEndpoint: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`;
}

/**
 * An Azurite left running by a host that was killed (SIGKILL skips every exit hook) still holds the
 * data directory's database files: stop it before starting a new one.
 */
function stopOrphan(pidFile: string, logger: HostLogger): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (!processCommandLine(pid).includes('azurite')) return;
  logger.warn(`Azurite from an earlier run is still running (pid ${pid}); stopping it`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Azurite's Blob service from node_modules, on loopback, data under `.local/azurite`. Always with
 * `--disableTelemetry` (it phones home otherwise), `--skipApiVersionCheck` (the SDK is newer than the
 * emulator) and `--loose`. Port 0 lets the OS choose; the real port is read from Azurite's output.
 */
export async function startAzurite(options: {
  root: string;
  location: string;
  port?: number;
  logger: HostLogger;
}): Promise<EmbeddedAzurite> {
  const main = path.join(options.root, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
  if (!existsSync(main)) throw new Error(`Azurite is not installed (${main} missing): run "npm install"`);
  mkdirSync(options.location, { recursive: true });
  const pidFile = path.join(options.location, 'azurite.pid');
  stopOrphan(pidFile, options.logger);
  const child = new ManagedChild({
    name: 'Azurite',
    command: process.execPath,
    args: [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(options.port ?? 0),
      '--location',
      options.location,
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--loose',
      '--silent',
    ],
    spawnOptions: { cwd: options.location },
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 5000,
  });
  let match: RegExpMatchArray;
  try {
    match = await child.waitForOutput(/successfully listens on (https?:\/\/[^\s]+)/, 30_000);
  } catch (error) {
    await child.stop();
    throw error;
  }
  if (child.process.pid) writeFileSync(pidFile, String(child.process.pid));
  void child.exited.then(() => rmSync(pidFile, { force: true }));
  const origin = match[1]!.replace(/\/$/, '');
  const blobEndpoint = `${origin}/${ACCOUNT}`;
  options.logger.debug(`Azurite Blob service at ${blobEndpoint}`);
  return { blobEndpoint, connectionString: azuriteConnectionString(blobEndpoint), stop: () => child.stop() };
}
