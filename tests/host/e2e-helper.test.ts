import { describe, expect, it } from 'vitest';
import { startE2eHost } from '../e2e/support/host.js';

// Boots the compiled host (dist/, built by `npm test`) as a child process against this run's databases,
// the way the e2e suite does.
describe('e2e host helper', () => {
  it('starts the compiled host on a free port, serves the real functions, and stops it', async () => {
    const host = await startE2eHost();
    try {
      expect(host.baseUrl).toBe(`http://127.0.0.1:${host.port}/api`);
      const health = await fetch(`${host.baseUrl}/health`);
      expect(health.status, host.output()).toBe(200);
      expect(await health.json()).toMatchObject({ checks: { database: { status: 'ok' } } });
      const missing = await fetch(`${host.baseUrl}/no-such-route`);
      expect(missing.status).toBe(404);
      // As the Functions host answers an unknown route: empty body, no Content-Type.
      expect(missing.headers.get('content-type')).toBeNull();
      expect(await missing.text()).toBe('');
    } finally {
      await host.stop();
    }
    await expect(fetch(`${host.baseUrl}/health`)).rejects.toThrow();
    expect(host.output()).toContain('Host stopped');
  }, 90_000);
});
