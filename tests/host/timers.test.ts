import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type LocalHost } from '../../infra/host/host.js';
import { testHostOptions, until } from './helpers.js';

let host: LocalHost;
let fixtures: typeof import('./fixtures/timer-functions.js');
let startedAt: number;

beforeAll(async () => {
  startedAt = Date.now();
  host = await startHost(
    testHostOptions({
      modules: [
        async () => {
          fixtures = await import('./fixtures/timer-functions.js');
        },
      ],
    }),
  );
});

afterAll(async () => {
  await host?.stop();
});

describe('timer triggers', () => {
  it('runs a runOnStartup timer once at start, with a Timer object', async () => {
    const run = await until(() => fixtures.runs.find((r) => r.name === 'startupTimer'), {
      what: 'startup run',
    });
    expect(run.at - startedAt).toBeLessThan(5000);
    expect(run.timer).toMatchObject({ isPastDue: false, schedule: { adjustForDST: true } });
    // The next occurrence of "0 0 0 1 1 *" is the coming 1 January.
    expect(run.timer.scheduleStatus.next).toMatch(/-01-01T00:00:00\.000Z$/);
  });

  it('fires a six-field schedule on time (every second)', async () => {
    await until(
      () => (fixtures.runs.filter((r) => r.name === 'everySecond').length >= 2 ? true : undefined),
      {
        timeoutMs: 5000,
        what: 'two ticks',
      },
    );
    const ticks = fixtures.runs.filter((r) => r.name === 'everySecond');
    expect(ticks[1]!.at - ticks[0]!.at).toBeGreaterThan(500);
    expect(fixtures.runs.filter((r) => r.name === 'startupTimer')).toHaveLength(1);
  });

  it('can run a timer function on demand through the admin API, with the master key only', async () => {
    const before = fixtures.runs.filter((r) => r.name === 'startupTimer').length;
    const url = `${host.url}/admin/functions/startupTimer`;
    // As on Azure (AdminAuthLevel): no key, a wrong key or the durable system key → 401, nothing runs.
    const wrong: Record<string, string>[] = [
      {},
      { 'x-functions-key': 'nope' },
      { 'x-functions-key': host.keys.durableTask },
    ];
    for (const headers of wrong)
      expect((await fetch(url, { method: 'POST', body: '{}', headers })).status).toBe(401);
    expect(fixtures.runs.filter((r) => r.name === 'startupTimer').length).toBe(before);
    const res = await fetch(url, {
      method: 'POST',
      body: '{}',
      headers: { 'x-functions-key': host.keys.master },
    });
    expect(res.status).toBe(202);
    await until(() =>
      fixtures.runs.filter((r) => r.name === 'startupTimer').length > before ? true : undefined,
    );
  });
});
