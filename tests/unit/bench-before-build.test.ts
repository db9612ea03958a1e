import { describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dependencyMismatches, hostDigest, placeThisHost } from '../bench/before-build.js';

// The before/after benchmark builds an older commit on this tree's node_modules; that is only a fair
// "before" when every package the commit names is installed here at the version it pinned.
describe('bench before-build: dependencyMismatches', () => {
  const now = {
    dependencies: { pg: '8.23.1', zod: '4.6.7', '@azure/communication-email': '1.1.0' },
    devDependencies: { typescript: '5.9.3', esbuild: '0.28.2' },
  };

  it('accepts a commit whose packages are all installed at its versions (packages added since are fine)', () => {
    const then = { dependencies: { pg: '8.23.1', zod: '4.6.7' }, devDependencies: { typescript: '5.9.3' } };
    expect(dependencyMismatches(then, now)).toEqual([]);
  });

  it('names a package pinned at another version, in dependencies or devDependencies', () => {
    const then = { dependencies: { pg: '8.20.0', zod: '4.6.7' }, devDependencies: { typescript: '5.8.2' } };
    expect(dependencyMismatches(then, now)).toEqual(['pg: 8.20.0 → 8.23.1', 'typescript: 5.8.2 → 5.9.3']);
  });

  it('names a package the commit needs that is no longer installed', () => {
    const then = { dependencies: { 'left-pad': '1.3.0' } };
    expect(dependencyMismatches(then, now)).toEqual(['left-pad: 1.3.0 → not installed']);
  });
});

// By default the older commit's app runs on this tree's local host (the platform stand-in), so the
// comparison measures the app alone.
describe("bench before-build: the older commit on this tree's host", () => {
  it("replaces the exported infra/host with this tree's, leaving nothing of the old one", async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'bench-host-'));
    try {
      await mkdir(path.join(root, 'infra', 'host'), { recursive: true });
      await writeFile(path.join(root, 'infra', 'host', 'host.ts'), '// the old host\n');
      await writeFile(path.join(root, 'infra', 'host', 'gone.ts'), '// removed since\n');
      expect(await hostDigest(root)).not.toBe(await hostDigest());
      await placeThisHost(root);
      expect(existsSync(path.join(root, 'infra', 'host', 'gone.ts'))).toBe(false);
      expect(await readFile(path.join(root, 'infra', 'host', 'host.ts'), 'utf8')).toBe(
        await readFile(path.join('infra', 'host', 'host.ts'), 'utf8'),
      );
      expect(await hostDigest(root)).toBe(await hostDigest());
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
