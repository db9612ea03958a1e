import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleLogger } from '../../infra/host/log.js';

// The host's console logger queues lines and writes them once per event-loop turn (infra/host/log.ts):
// a synchronous write per line was a quarter of the host's CPU time per cached request.
describe('host console logger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes one turn of lines in one write per stream run, in order across stdout and stderr', async () => {
    const marker = `cl-${process.pid}-${Date.now()}`;
    const writes: string[] = [];
    const capture =
      (name: string) =>
      (chunk: unknown): boolean => {
        const text = String(chunk);
        if (text.includes(marker)) writes.push(`${name}:${text.replace(/\[[\d:.]+\] /g, '')}`);
        return true;
      };
    vi.spyOn(process.stdout, 'write').mockImplementation(capture('out'));
    vi.spyOn(process.stderr, 'write').mockImplementation(capture('err'));
    const logger = consoleLogger();
    for (let i = 0; i < 50; i++) logger.info(`${marker} ${i}`);
    logger.error(`${marker} failed`);
    logger.info(`${marker} after`);
    logger.debug(`${marker} hidden`);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual([
      `out:${Array.from({ length: 50 }, (_, i) => `${marker} ${i}\n`).join('')}`,
      `err:ERROR: ${marker} failed\n`,
      `out:${marker} after\n`,
    ]);
  });

  it('writes what is queued when the process exits', () => {
    const compiled = path.resolve('dist', 'infra', 'host', 'log.js');
    if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run "npm run build" first`);
    const script =
      `import(${JSON.stringify(pathToFileURL(compiled).href)}).then((m) => {` +
      `const log = m.consoleLogger(); log.info('one'); log.warn('two'); log.info('three'); process.exit(3); });`;
    const run = spawnSync('sh', ['-c', `"${process.execPath}" --input-type=module -e "$0" 2>&1`, script], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(3);
    expect(run.stdout.replace(/\[[\d:.]+\] /g, '')).toBe('one\nWARNING: two\nthree\n');
  });
});
