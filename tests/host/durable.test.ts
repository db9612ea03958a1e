import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type LocalHost } from '../../infra/host/host.js';
import { registeredFunctions } from '../../infra/host/core-api.js';
import { DurableEngine, type InstanceStatus } from '../../infra/host/durable/engine.js';
import { DurableStore, type EpisodeOutcome, type EpisodeWrite } from '../../infra/host/durable/store.js';
import { testHostOptions, testLogger, uniqueHub, until } from './helpers.js';

const hub = uniqueHub();

/** A store that counts what its engine got done: applied episodes, and activity results it recorded. */
class CountingStore extends DurableStore {
  episodes = 0;
  results = 0;
  readonly instances = new Set<string>();
  override async writeEpisode(w: EpisodeWrite): Promise<EpisodeOutcome> {
    const outcome = await super.writeEpisode(w);
    if (outcome.applied) {
      this.episodes++;
      this.instances.add(w.instanceId);
      this.results += w.consumedActivities.length;
    }
    return outcome;
  }
  override async completeActivity(...args: Parameters<DurableStore['completeActivity']>): Promise<boolean> {
    const done = await super.completeActivity(...args);
    if (done) this.results++;
    return done;
  }
}
let host: LocalHost;
let fixtures: typeof import('./fixtures/orchestrations.js');

beforeAll(async () => {
  if (!process.env.DATABASE_URL)
    throw new Error('DATABASE_URL must be set (tests/setup/global.ts provides it)');
  host = await startHost(
    testHostOptions({
      durable: { hubName: hub, pollIntervalMs: 200 },
      modules: [
        async () => {
          fixtures = await import('./fixtures/orchestrations.js');
        },
      ],
    }),
  );
});

afterAll(async () => {
  await host?.stop();
});

const newId = (prefix: string): string => `${prefix}-${randomUUID()}`;

async function startFlow(name: string, instanceId: string, input?: unknown): Promise<Response> {
  return fetch(`${host.baseUrl}/flows/${name}/${instanceId}`, {
    method: 'POST',
    ...(input !== undefined ? { body: JSON.stringify(input) } : {}),
  });
}

async function statusOf(instanceId: string): Promise<InstanceStatus> {
  const res = await fetch(`${host.baseUrl}/flows/${instanceId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as InstanceStatus;
}

const finished = (id: string): Promise<InstanceStatus> => host.durable!.waitForCompletion(id, 20_000);

/** A call to the public durable webhooks, with the extension's system key (as on Azure). */
function webhook(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${host.url}/runtime/webhooks/durabletask/${path}`, {
    ...init,
    headers: { 'x-functions-key': host.keys.durableTask },
  });
}

describe('durable functions through the real durable-functions library', () => {
  it('gives durable-client functions management URLs that point at this host', async () => {
    const id = newId('links');
    const res = await startFlow('mainFlow', id, { key: id, failTimes: 0, timeoutMs: 50 });
    expect(res.status).toBe(202);
    const links = (await res.json()) as Record<string, string>;
    expect(links.id).toBe(id);
    // The public URLs carry the system key, as the extension's GetClientResponseLinks builds them.
    expect(links.statusQueryGetUri).toBe(
      `${host.url}/runtime/webhooks/durabletask/instances/${id}?taskHub=${hub}&connection=Storage&code=${host.keys.durableTask}`,
    );
    expect(res.headers.get('location')).toBe(links.statusQueryGetUri);
    await finished(id);
    const direct = await fetch(links.statusQueryGetUri!);
    expect(direct.status).toBe(200);
    expect(((await direct.json()) as InstanceStatus).runtimeStatus).toBe('Completed');
  });

  it("refuses the public webhooks without the system key (401, nothing changes); the app's client needs none", async () => {
    const id = newId('keys');
    expect((await startFlow('waitThenTimer', id)).status).toBe(202);
    await until(async () => (await statusOf(id)).customStatus === 'waiting for Go' || undefined);
    const base = `${host.url}/runtime/webhooks/durabletask`;
    const calls: [string, string][] = [
      ['GET', `instances/${id}`],
      ['GET', 'instances'],
      ['POST', `instances/${id}/raiseEvent/Go`],
      ['POST', `instances/${id}/terminate?reason=x`],
      ['DELETE', `instances/${id}`],
      ['DELETE', 'instances'],
      ['POST', `orchestrators/timerOnly/${newId('keys-start')}`],
    ];
    const wrong: Record<string, string>[] = [{}, { 'x-functions-key': 'nope' }, { 'x-functions-key': '' }];
    for (const [method, path] of calls)
      for (const headers of wrong) {
        const res = await fetch(`${base}/${path}`, {
          method,
          headers,
          ...(method === 'POST' ? { body: '1' } : {}),
        });
        expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(await res.text()).toBe('');
      }
    // A wrong header wins over a right code= (the header is read first), as in the host.
    const shadowed = await fetch(`${base}/instances/${id}?code=${host.keys.durableTask}`, {
      headers: { 'x-functions-key': 'nope' },
    });
    expect(shadowed.status).toBe(401);
    expect((await statusOf(id)).runtimeStatus).toBe('Running');
    expect((await statusOf(id)).customStatus).toBe('waiting for Go');

    // With the system key (header or code=) or the master key, each works.
    expect((await fetch(`${base}/instances/${id}?code=${host.keys.durableTask}`)).status).toBe(202);
    const raised = await fetch(`${base}/instances/${id}/raiseEvent/Go`, {
      method: 'POST',
      body: '"go"',
      headers: { 'x-functions-key': host.keys.master },
    });
    expect(raised.status).toBe(202);
    expect((await finished(id)).output).toEqual({ go: 'go' });
    expect(await (await webhook(`instances/${id}`, { method: 'DELETE' })).json()).toEqual({
      instancesDeleted: 1,
    });

    const other = newId('keys-terminate');
    expect((await startFlow('waitThenTimer', other)).status).toBe(202);
    await until(async () => (await statusOf(other)).runtimeStatus === 'Running' || undefined);
    expect((await webhook(`instances/${other}/terminate?reason=test`, { method: 'POST' })).status).toBe(202);
    expect((await finished(other)).runtimeStatus).toBe('Terminated');
  });

  it("gives the app's durable client a loopback RPC base URL without a key, and public URLs with it", async () => {
    const data = (await (await fetch(`${host.baseUrl}/flows-client-data`)).json()) as {
      rpcBaseUrl: string;
      requiredQueryStringParameters: string;
      creationUrls: Record<string, string>;
    };
    expect(data.rpcBaseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/durabletask\/$/);
    expect(new URL(data.rpcBaseUrl).port).not.toBe(String(host.port));
    expect(data.requiredQueryStringParameters).toBe(`code=${host.keys.durableTask}`);
    expect(data.creationUrls.createNewInstancePostUri).toContain(`?code=${host.keys.durableTask}`);
    // The RPC endpoint serves the same API, keyless, to whoever is on this machine (as on Azure).
    expect((await fetch(`${data.rpcBaseUrl}instances/${newId('none')}`)).status).toBe(404);
  });

  it('runs retry, Task.all, a string input and an external event that wins the race with a timer', async () => {
    const id = newId('event-wins');
    expect((await startFlow('mainFlow', id, { key: id, failTimes: 2, timeoutMs: 20_000 })).status).toBe(202);
    await until(
      async () =>
        ((await statusOf(id)).customStatus as { stage?: string } | null)?.stage === 'waiting' || undefined,
      { what: 'the orchestration to wait for its event' },
    );
    const raised = await fetch(`${host.baseUrl}/flows/${id}/events/Approval`, {
      method: 'POST',
      body: JSON.stringify({ by: 'alice' }),
    });
    expect(raised.status).toBe(202);
    const status = await finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({
      retried: 'ok after 3',
      doubled: [2, 4, 6],
      greeting: 'Hello World',
      outcome: { approved: { by: 'alice' } },
    });
    expect(status.customStatus).toEqual({ stage: 'done' });
    expect(fixtures.attempts.get(id)).toBe(3);
    // The losing timer was cancelled: no work is left behind for the instance.
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    try {
      const { rows } = await pool.query(
        'select count(*)::int as n from durable_host.messages where hub = $1 and instance_id = $2',
        [hub, id],
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('lets the timer win when no event comes, and answers 410 to a late event', async () => {
    const id = newId('timer-wins');
    await startFlow('mainFlow', id, { key: id, failTimes: 0, timeoutMs: 300 });
    const status = await finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect((status.output as { outcome: unknown }).outcome).toBe('timed-out');
    const late = await webhook(`instances/${id}/raiseEvent/Approval`, { method: 'POST', body: '{}' });
    expect(late.status).toBe(410);
    // The SDK treats 410 as "already finished", not as an error.
    expect(
      (await fetch(`${host.baseUrl}/flows/${id}/events/Approval`, { method: 'POST', body: '{}' })).status,
    ).toBe(202);
  });

  it('keeps sequence ids aligned when retries fail inside Task.all', async () => {
    const id = newId('parallel');
    await startFlow('parallelRetries', id);
    const status = await finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({ results: ['ok after 2', 'ok after 4', 10], after: 14 });
  });

  it('fails the task after the last retry attempt and lets the orchestrator catch it', async () => {
    const id = newId('exhausted');
    await startFlow('retryExhausted', id);
    const status = await finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect((status.output as { failed: string }).failed).toContain(`attempt 2 of ${id} failed`);
    expect(fixtures.attempts.get(id)).toBe(2);
  });

  it('fails a non-deterministic orchestrator', async () => {
    const id = newId('nondeterministic');
    await startFlow('nonDeterministic', id);
    const status = await finished(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('Non-Deterministic workflow detected');
    expect(status.failureDetails).toMatchObject({ errorType: 'NonDeterministicOrchestrationException' });
  });

  it('reports an orchestrator exception as a failure with details', async () => {
    const id = newId('throwing');
    await startFlow('throwing', id);
    const status = await finished(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toBe("Orchestrator function 'throwing' failed: kaboom in orchestrator");
    expect(status.failureDetails?.errorMessage).toBe('kaboom in orchestrator');
  });

  it('refuses a second start of a running instance id, allows it once finished', async () => {
    const id = newId('dup');
    expect((await startFlow('waitThenTimer', id)).status).toBe(202);
    const second = await startFlow('waitThenTimer', id);
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: string }).error).toContain('409');
    await fetch(`${host.baseUrl}/flows/${id}/terminate`, { method: 'POST' });
    expect((await finished(id)).runtimeStatus).toBe('Terminated');
    expect((await startFlow('timerOnly', id, 10)).status).toBe(202);
    expect((await finished(id)).output).toBe('fired');
  });

  it('terminates a running instance; events to it then get 410', async () => {
    const id = newId('terminate');
    await startFlow('waitThenTimer', id);
    await until(async () => (await statusOf(id)).runtimeStatus === 'Running' || undefined);
    expect((await fetch(`${host.baseUrl}/flows/${id}/terminate`, { method: 'POST' })).status).toBe(202);
    const status = await statusOf(id);
    expect(status.runtimeStatus).toBe('Terminated');
    expect(status.output).toBe('stopped by test');
    const late = await webhook(`instances/${id}/raiseEvent/Go`, { method: 'POST', body: '1' });
    expect(late.status).toBe(410);
  });

  it('purges a finished instance', async () => {
    const id = newId('purge');
    await startFlow('timerOnly', id, 10);
    await finished(id);
    const purge = await fetch(`${host.baseUrl}/flows/${id}`, { method: 'DELETE' });
    expect(await purge.json()).toEqual({ instancesDeleted: 1 });
    const gone = await webhook(`instances/${id}`);
    expect(gone.status).toBe(404);
  });

  it('runs several instances concurrently', async () => {
    const ids = Array.from({ length: 6 }, () => newId('many'));
    const t0 = Date.now();
    await Promise.all(ids.map((id) => startFlow('timerOnly', id, 500)));
    const results = await Promise.all(ids.map(finished));
    expect(results.every((s) => s.output === 'fired')).toBe(true);
    // Six half-second timers in parallel, not one after the other.
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  it('restarts an instance with new input on continueAsNew', async () => {
    const id = newId('counter');
    await startFlow('counter', id, 0);
    const status = await finished(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 3, input: 3 });
  });

  it('never lets two engines on one database advance the same instance at once', async () => {
    // A second engine (as another host process would run) competes for the same task hub.
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 5 });
    const byType = (type: string) =>
      new Map(
        registeredFunctions()
          .filter((f) => f.trigger.type === type)
          .map((f) => [f.name, f]),
      );
    const rivalStore = new CountingStore(pool, 'durable_host', hub);
    const rival = new DurableEngine({
      store: rivalStore,
      logger: testLogger,
      orchestrators: byType('orchestrationTrigger'),
      activities: byType('activityTrigger'),
      inputs: {},
      maxConcurrentActivities: 4,
      maxConcurrentOrchestrations: 4,
      pollIntervalMs: 20,
    });
    await rival.start();
    try {
      const ids = Array.from({ length: 8 }, () => newId('contended'));
      // Half are started through the rival: in one process the engine that scheduled a timer wakes
      // first, so a rival that only polls would rarely get a turn. Both engines still poll the same hub
      // and race for every due timer and event of every instance.
      await Promise.all(
        ids.map(async (id, i) => {
          if (i % 2 === 0) expect((await startFlow('parallelRetries', id)).status).toBe(202);
          else expect((await rival.startNew('parallelRetries', id, undefined)).outcome).toBe('started');
        }),
      );
      for (const id of ids) {
        const status = await finished(id);
        expect(status.output).toEqual({ results: ['ok after 2', 'ok after 4', 10], after: 14 });
        const history = (await host.durable!.status(id, { showHistory: true }))!.history!;
        const scheduledIds = history
          .filter((e) => e.EventType === 'TaskScheduled' || e.EventType === 'TimerCreated')
          .map((e) => e.EventId);
        expect(new Set(scheduledIds).size).toBe(scheduledIds.length);
        expect(history.filter((e) => e.EventType === 'ExecutionCompleted')).toHaveLength(1);
      }
      // The rival really worked: it advanced instances and recorded activity results it ran itself
      // (else this is a one-engine test).
      console.log(
        `[durable] rival engine: ${rivalStore.episodes} episodes on ${rivalStore.instances.size} instances, ${rivalStore.results} activity results`,
      );
      expect(ids.filter((id) => rivalStore.instances.has(id)).length).toBeGreaterThan(0);
      expect(rivalStore.results).toBeGreaterThan(0);
    } finally {
      await rival.stop();
      await pool.end();
    }
  });

  it('exposes the history with showHistory', async () => {
    const id = newId('history');
    await startFlow('timerOnly', id, 10);
    await finished(id);
    const res = await webhook(`instances/${id}?showHistory=true`);
    const status = (await res.json()) as { history: { EventType: string }[] };
    expect(status.history.map((e) => e.EventType)).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TimerCreated',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TimerFired',
      'ExecutionCompleted',
    ]);
  });
});
