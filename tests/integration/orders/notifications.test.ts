import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import { NOTIFICATION_MAX_DELIVERIES, notifications } from '../../../functions/notifications.js';
import { runUnitOfWork } from '../../../shared/db/unit-of-work.js';
import { closeOrms } from '../../../shared/db/orm.js';
import type { DomainContext } from '../../../shared/services/context.js';
import {
  EmlFileSender,
  setEmailSender,
  type Email,
  type EmailSender,
} from '../../../shared/services/notifications/email-sender.js';
import {
  OrderEventRelay,
  writeOrderEvent,
  type OrderEvent,
} from '../../../shared/services/orders/order-events.js';
import { RecordingBus } from '../../support/recording-bus.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../../fixtures/sample_data.js';
import { createUser, type TestUser } from '../../fixtures/users.js';
import { orderIn } from './helpers.js';

let tenantId: string;
let customer: TestUser;
let orderId: string;
let mailDir: string;
const bus = new RecordingBus();

beforeAll(async () => {
  tenantId = (await createTenant('Mail shop')).id;
  customer = await createUser(tenantId, { email: 'grace@example.test', name: 'Grace' });
  orderId = await orderIn(tenantId, customer.id, (await createProduct(tenantId)).id, 'confirmed');
});

beforeEach(() => {
  mailDir = mkdtempSync(path.join(tmpdir(), 'mail-'));
  setEmailSender(new EmlFileSender(mailDir));
});

afterAll(async () => {
  setEmailSender(undefined);
  await closeOrms();
  await closeTestPool();
});

/** A batch trigger's context: one delivery count per message, as `deliveryCountArray`. */
function context(...deliveryCounts: number[]): { context: InvocationContext; logs: string[] } {
  const logs: string[] = [];
  const ctx = new InvocationContext({
    invocationId: randomUUID(),
    functionName: 'notifications',
    triggerMetadata: { deliveryCountArray: deliveryCounts.length > 0 ? deliveryCounts : [1] },
    logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
  });
  return { context: ctx, logs };
}

/** Writes one event through a unit of work and relays it to the recording bus; returns the message. */
async function publish(type: OrderEvent['type'], data: Record<string, unknown> = {}): Promise<OrderEvent> {
  const eventId = await runUnitOfWork('write', (em) =>
    writeOrderEvent({ em, tenantId, log: console, correlationId: 't' } as DomainContext, {
      type,
      orderId,
      data,
    }),
  );
  await new OrderEventRelay(() => bus).drain();
  const message = bus.on('order-events').find((m) => m.messageId === eventId);
  expect(message, 'relayed with messageId = eventId').toBeDefined();
  return message!.body as OrderEvent;
}

const emails = () => readdirSync(mailDir).filter((f) => f.endsWith('.eml'));

describe('order events and customer emails', () => {
  it('the relay sends each outbox row once with messageId = eventId and marks it relayed', async () => {
    const event = await publish('order.shipped', { carrier: 'DHL', trackingNumber: 'T1' });
    expect(event).toMatchObject({ type: 'order.shipped', tenantId, orderId, data: { carrier: 'DHL' } });
    expect(Date.parse(event.occurredAt)).not.toBeNaN();
    const before = bus.sent.length;
    await new OrderEventRelay(() => bus).drain();
    expect(bus.sent.length).toBe(before);
    const { rows } = await testPool().query('select relayed_at from order_events where id = $1', [
      event.eventId,
    ]);
    expect(rows[0].relayed_at).not.toBeNull();
  });

  it('an event written in a unit of work that rolls back is never relayed', async () => {
    const eventId = randomUUID();
    await expect(
      runUnitOfWork('write', async (em) => {
        await writeOrderEvent({ em, tenantId, log: console, correlationId: 't' } as DomainContext, {
          type: 'order.cancelled',
          orderId,
          eventId,
        });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await new OrderEventRelay(() => bus).drain();
    expect(bus.sent.some((s) => s.message.messageId === eventId)).toBe(false);
  });

  it('emails the customer once, however often (and however concurrently) the message is delivered', async () => {
    const event = await publish('order.shipped', { carrier: 'DHL', trackingNumber: 'JD014600006281' });
    // Count what reaches the provider: the file sender's own exclusive create must not be what dedupes.
    const files = new EmlFileSender(mailDir);
    let calls = 0;
    setEmailSender({
      async send(email, log) {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        await files.send(email, log);
      },
    });
    const first = context();
    await notifications([JSON.stringify(event)], first.context);
    await Promise.all([1, 2, 3].map((n) => notifications([event], context(n).context)));
    await notifications([event], context(2).context);
    expect(calls).toBe(1);
    expect(emails()).toEqual([`${event.eventId}.eml`]);
    const eml = readFileSync(path.join(mailDir, `${event.eventId}.eml`), 'utf8');
    expect(eml).toContain('To: grace@example.test');
    expect(eml).toMatch(/^Subject: Order [0-9A-F]{8} shipped$/m);
    const body = Buffer.from(eml.split('\r\n\r\n')[1]!.replace(/\r\n/g, ''), 'base64').toString('utf8');
    expect(body).toContain('Hello Grace');
    expect(body).toContain('JD014600006281');
    expect(first.logs.some((l) => l.includes(path.join(mailDir, `${event.eventId}.eml`)))).toBe(true);
    expect(first.logs.join('\n')).not.toContain('grace@example.test');
    const { rows } = await testPool().query(
      'select count(*)::int as n from sent_notifications where event_id = $1',
      [event.eventId],
    );
    expect(rows[0].n).toBe(1);
  });

  it('a deleted customer gets nothing; the event is recorded as handled and a redelivery stays quiet', async () => {
    const gone = await createUser(tenantId, { email: 'gone@example.test', name: 'Gone' });
    const theirs = await orderIn(tenantId, gone.id, (await createProduct(tenantId)).id, 'confirmed');
    await testPool().query('update users set deleted_at = now() where id = $1', [gone.id]);
    const event: OrderEvent = {
      eventId: randomUUID(),
      type: 'order.shipped',
      tenantId,
      orderId: theirs,
      occurredAt: new Date().toISOString(),
      data: { carrier: 'DHL', trackingNumber: 'X1' },
    };
    const first = context();
    await notifications([event], first.context);
    expect(emails()).toEqual([]);
    expect(first.logs.join('\n')).toContain('no customer to email');
    const again = context(2);
    await notifications([event], again.context);
    expect(again.logs.join('\n')).toContain('already emailed');
    const { rows } = await testPool().query(
      'select count(*)::int as n from sent_notifications where event_id = $1',
      [event.eventId],
    );
    expect(rows[0].n).toBe(1);
  });

  it('a provider failure is retried (nothing recorded as sent); the last failed delivery logs the dead-letter', async () => {
    const event = await publish('order.confirmed');
    const sent: Email[] = [];
    let failing = true;
    const flaky: EmailSender = {
      async send(email) {
        if (failing) throw new Error('ACS: 503 Service Unavailable');
        sent.push(email);
      },
    };
    setEmailSender(flaky);
    const early = context(1);
    await expect(notifications([event], early.context)).rejects.toThrow('503');
    expect(early.logs.some((l) => l.startsWith('warning:') && l.includes('will be retried'))).toBe(true);
    const { rows } = await testPool().query('select 1 from sent_notifications where event_id = $1', [
      event.eventId,
    ]);
    expect(rows).toHaveLength(0);

    const last = context(NOTIFICATION_MAX_DELIVERIES);
    await expect(notifications([event], last.context)).rejects.toThrow('503');
    expect(
      last.logs.some(
        (l) =>
          l.startsWith('error:') &&
          l.includes(event.eventId) &&
          l.includes(`delivery ${NOTIFICATION_MAX_DELIVERIES} of ${NOTIFICATION_MAX_DELIVERIES}`) &&
          l.includes('dead-letter'),
      ),
    ).toBe(true);

    failing = false;
    await notifications([event], context(2).context);
    await notifications([event], context(3).context);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      id: event.eventId,
      to: 'grace@example.test',
      subject: expect.stringContaining('confirmed'),
    });
  });

  it('a batch claims its events together; a failed email and a poison message fail alone and only they are tried again', async () => {
    const [one, two, three] = [
      await publish('order.shipped', { carrier: 'DHL', trackingNumber: 'B1' }),
      await publish('order.shipped', { carrier: 'DHL', trackingNumber: 'B2' }),
      await publish('order.shipped', { carrier: 'DHL', trackingNumber: 'B3' }),
    ];
    // Another shop's event naming this shop's order: looked up in its own tenant, it finds nobody.
    const otherTenant = (await createTenant('Other mail shop')).id;
    const foreign: OrderEvent = { ...one, eventId: randomUUID(), tenantId: otherTenant };
    const calls = new Map<string, number>();
    let twoFails = true;
    setEmailSender({
      async send(email) {
        calls.set(email.id, (calls.get(email.id) ?? 0) + 1);
        if (email.id === two.eventId && twoFails) throw new Error('ACS: 503 Service Unavailable');
      },
    });
    const poison = '{"type":"order.shipped"';
    const batch = [one, two, poison, three, one, foreign];

    const first = context(1, 1, 1, 1, 1, 1);
    await expect(notifications(batch, first.context)).rejects.toThrow('2 of 6 message(s) failed');
    const claimed = async (): Promise<string[]> =>
      (
        await testPool().query<{ event_id: string }>(
          'select event_id from sent_notifications where event_id = any($1::uuid[]) order by event_id',
          [[one.eventId, two.eventId, three.eventId, foreign.eventId]],
        )
      ).rows.map((r) => r.event_id);
    expect(await claimed()).toEqual([one.eventId, three.eventId, foreign.eventId].sort());
    expect(Object.fromEntries(calls)).toEqual({ [one.eventId]: 1, [two.eventId]: 1, [three.eventId]: 1 });
    expect(first.logs.filter((l) => l.startsWith('warning:') && l.includes('will be retried'))).toHaveLength(
      2,
    );
    expect(first.logs.join('\n')).toContain(`event ${foreign.eventId}: no customer to email`);

    // Delivered again (the provider is back): only the failed email is sent; the poison fails again.
    twoFails = false;
    const last = context(5, 5, 5, 5, 5, 5);
    await expect(notifications(batch, last.context)).rejects.toThrow('1 of 6 message(s) failed');
    expect(Object.fromEntries(calls)).toEqual({ [one.eventId]: 1, [two.eventId]: 2, [three.eventId]: 1 });
    expect(await claimed()).toHaveLength(4);
    expect(last.logs.filter((l) => l.startsWith('error:'))).toEqual([
      expect.stringMatching(/event \(no id\) failed on delivery 5 of 5; giving up: .*dead-letter.*poison/),
    ]);
  });

  it('a malformed message is poison: it fails every delivery and dead-letters with a clear line', async () => {
    const last = context(NOTIFICATION_MAX_DELIVERIES);
    await expect(notifications(['{"type":"order.shipped"'], last.context)).rejects.toThrow('poison');
    expect(last.logs.some((l) => l.startsWith('error:') && l.includes('dead-letter'))).toBe(true);
    expect(emails()).toEqual([]);
  });
});
