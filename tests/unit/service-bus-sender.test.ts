import { describe, expect, it } from 'vitest';
import {
  ServiceBusMessageSender,
  type ServiceBusClientLike,
} from '../../shared/messaging/service-bus-sender.js';

function fakeClient() {
  const calls: { queue: string; kind: string; message: any; at?: Date }[] = [];
  let created = 0;
  let closed = 0;
  const client: ServiceBusClientLike = {
    createSender: (queue) => {
      created++;
      return {
        sendMessages: async (message) => void calls.push({ queue, kind: 'send', message }),
        scheduleMessages: async (message, at) => void calls.push({ queue, kind: 'schedule', message, at }),
        close: async () => void closed++,
      };
    },
    close: async () => void closed++,
  };
  return { client, calls, created: () => created, closed: () => closed };
}

describe('ServiceBusMessageSender', () => {
  it('passes messageId for duplicate detection and reuses one sender per queue', async () => {
    const fake = fakeClient();
    const sender = new ServiceBusMessageSender(fake.client);
    await sender.send('order-exports', { body: { exportId: 'e1' }, messageId: 'e1' });
    await sender.send('order-exports', { body: { exportId: 'e2' }, messageId: 'e2' });
    expect(fake.created()).toBe(1);
    expect(fake.calls.map((c) => c.message)).toEqual([
      { body: { exportId: 'e1' }, messageId: 'e1', contentType: 'application/json' },
      { body: { exportId: 'e2' }, messageId: 'e2', contentType: 'application/json' },
    ]);
  });

  it('schedules messages with an enqueue time', async () => {
    const fake = fakeClient();
    const sender = new ServiceBusMessageSender(fake.client);
    const at = new Date(Date.now() + 60_000);
    await sender.send('q', { body: 'x', scheduledEnqueueTime: at });
    expect(fake.calls[0]).toMatchObject({ kind: 'schedule', at });
    await sender.close();
    expect(fake.closed()).toBe(2);
  });
});
