import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHostJson } from '../../infra/host/host-config.js';
import { startHost, type LocalHost } from '../../infra/host/host.js';
import { getLocalMessageBus } from '../../shared/messaging/local-bus.js';
import { getMessageSender } from '../../shared/messaging/index.js';
import { testHostOptions, until } from './helpers.js';

let host: LocalHost;
let fixtures: typeof import('./fixtures/queue-functions.js');

beforeAll(async () => {
  host = await startHost(
    testHostOptions({
      serviceBus: { maxConcurrentCalls: 3 },
      modules: [
        async () => {
          fixtures = await import('./fixtures/queue-functions.js');
        },
      ],
    }),
  );
});

afterAll(async () => {
  await host?.stop();
});

const deliveriesOf = (id: string): number[] =>
  fixtures.deliveries.filter((d) => d.id === id).map((d) => d.deliveryCount);

describe('in-process Service Bus queues (peek-lock)', () => {
  it('takes maxDeliveryCount from host.json', () => {
    expect(host.queues.maxDeliveryCount).toBe(readHostJson(process.cwd()).serviceBus.maxDeliveryCount);
  });

  it('redelivers a message whose handler throws: fails twice, then succeeds on delivery 3', async () => {
    const id = randomUUID();
    host.queues.send('flaky', { body: { id, failTimes: 2 }, messageId: `m-${id}` });
    await host.queues.idle();
    expect(deliveriesOf(id)).toEqual([1, 2, 3]);
    expect(new Set(fixtures.deliveries.filter((d) => d.id === id).map((d) => d.messageId))).toEqual(
      new Set([`m-${id}`]),
    );
    expect(host.queues.deadLetters('flaky').some((d) => (d.message.body as { id: string }).id === id)).toBe(
      false,
    );
  });

  it('dead-letters a message that always fails after maxDeliveryCount deliveries', async () => {
    const id = randomUUID();
    const deadLettered = new Promise((resolve) => host.queues.once('deadLetter', resolve));
    host.queues.send('flaky', { body: { id, failTimes: 1000 } });
    await deadLettered;
    const max = host.queues.maxDeliveryCount;
    expect(deliveriesOf(id)).toEqual(Array.from({ length: max }, (_, i) => i + 1));
    const entry = host.queues.deadLetters('flaky').find((d) => (d.message.body as { id: string }).id === id);
    expect(entry).toMatchObject({ reason: 'MaxDeliveryCountExceeded', queue: 'flaky' });
    expect(entry?.description).toContain(`delivery ${max} of ${id} fails on purpose`);
    expect(host.queues.peek('flaky')).toEqual([]);
  });

  it("hands a batch trigger at most host.json's maxMessageBatchSize messages, one batch at a time, with a delivery count each", async () => {
    const max = readHostJson(process.cwd()).serviceBus.maxMessageBatchSize;
    const total = 2 * max + 50;
    for (let i = 0; i < total; i++) host.queues.send('batched', { body: { i } });
    await host.queues.idle();
    const sizes = fixtures.batches.map((b) => b.size);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
    expect(Math.max(...sizes)).toBe(max);
    for (const batch of fixtures.batches) expect(batch.deliveryCounts).toEqual(Array(batch.size).fill(1));
    // maxConcurrentCalls (3 here) is for single-message functions: a batch function runs one at a time.
    expect(fixtures.batchConcurrency.max).toBe(1);
  });

  it('limits concurrent deliveries per function to maxConcurrentCalls', async () => {
    for (let i = 0; i < 12; i++) host.queues.send('slow', { body: { i } });
    await host.queues.idle();
    expect(fixtures.concurrency.max).toBe(3);
  });

  it("backs the project's MessageSender: registered with setLocalMessageBus and used by getMessageSender()", async () => {
    expect(getLocalMessageBus()).toBeDefined();
    expect(getMessageSender()).toBe(getLocalMessageBus());
  });

  it('drops a repeated messageId within the duplicate-detection window', async () => {
    const id = randomUUID();
    const sender = getMessageSender();
    await sender.send('flaky', { body: { id, failTimes: 0 }, messageId: `dup-${id}` });
    await sender.send('flaky', { body: { id, failTimes: 0 }, messageId: `dup-${id}` });
    await host.queues.idle();
    expect(deliveriesOf(id)).toEqual([1]);
  });

  it('holds a message back until its scheduledEnqueueTime', async () => {
    const id = randomUUID();
    const sentAt = Date.now();
    await getMessageSender().send('flaky', {
      body: { id, failTimes: 0 },
      scheduledEnqueueTime: new Date(sentAt + 400),
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(deliveriesOf(id)).toEqual([]);
    expect(host.queues.peek('flaky')).toHaveLength(1);
    await until(() => (deliveriesOf(id).length === 1 ? true : undefined), { what: 'scheduled delivery' });
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(390);
  });
});
