import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { events } from '../../infra/host/durable/history.js';
import { DurableStore } from '../../infra/host/durable/store.js';
import { startHost, type HostOptions, type LocalHost } from '../../infra/host/host.js';
import { testHostOptions, uniqueHub, until } from './helpers.js';

// Both hosts share the database (DATABASE_URL) and the task hub, like two runs of `npm start`.
const hub = uniqueHub();
const options = (): HostOptions =>
  testHostOptions({
    durable: { hubName: hub, pollIntervalMs: 100 },
    modules: [() => import('./fixtures/orchestrations.js')],
  });

let current: LocalHost | undefined;
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

async function restart(): Promise<LocalHost> {
  await current?.stop();
  current = await startHost(options());
  return current;
}

describe('durable state survives a host restart', () => {
  it('an instance waiting for an event completes after the event is raised to the next host', async () => {
    const id = `restart-${randomUUID()}`;
    let host = await restart();
    const started = await fetch(`${host.baseUrl}/flows/waitThenTimer/${id}`, { method: 'POST' });
    expect(started.status).toBe(202);
    await until(
      async () => (await host.durable!.status(id))?.customStatus === 'waiting for Go' || undefined,
      {
        what: 'the instance to wait',
      },
    );

    host = await restart(); // a new port, a new engine, the same database
    expect((await host.durable!.status(id))?.runtimeStatus).toBe('Running');
    const raised = await fetch(`${host.baseUrl}/flows/${id}/events/Go`, { method: 'POST', body: '"now"' });
    expect(raised.status).toBe(202);
    const status = await host.durable!.waitForCompletion(id, 15_000);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({ go: 'now' });
  });

  it('an event that arrived before its rival timer fired wins, even when one late episode replays both', async () => {
    const id = `race-${randomUUID()}`;
    let host = await restart();
    await fetch(`${host.baseUrl}/flows/eventOrTimer/${id}`, { method: 'POST', body: '2500' });
    await until(async () => (await host.durable!.status(id))?.customStatus === 'racing' || undefined);
    const created = (await host.durable!.status(id, { showHistory: true }))!.history!.find(
      (e) => e.EventType === 'TimerCreated',
    );
    const fireAt = Date.parse(String(created!.FireAt));
    await current!.stop();
    current = undefined;
    // While no host runs: the event arrives first, then the timer comes due. Its inbox row was
    // written when the timer was created, i.e. before the event's.
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    try {
      const at = new Date();
      const store = new DurableStore(pool, 'durable_host', hub);
      expect(await store.enqueueEvent(id, events.eventRaised('Go', '"early"', at), at)).toBe('Running');
      expect(Date.now(), 'the event was raised before the timer was due').toBeLessThan(fireAt);
    } finally {
      await pool.end();
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, fireAt + 300 - Date.now())));
    host = await restart();
    const status = await host.durable!.waitForCompletion(id, 15_000);
    expect(status.output).toEqual({ winner: 'event', value: 'early' });
  });

  it('a durable timer pending at shutdown fires after the restart', async () => {
    const id = `timer-${randomUUID()}`;
    let host = await restart();
    await fetch(`${host.baseUrl}/flows/timerOnly/${id}`, { method: 'POST', body: '800' });
    await until(async () => (await host.durable!.status(id))?.runtimeStatus === 'Running' || undefined);
    await current!.stop();
    current = undefined;
    await new Promise((resolve) => setTimeout(resolve, 900)); // the timer comes due while nothing runs
    host = await restart();
    const status = await host.durable!.waitForCompletion(id, 15_000);
    expect(status.output).toBe('fired');
  });
});
