// The account's event log: every state change becomes one immutable event (what GET /v1/events lists and
// what webhooks deliver). Duplicated deliveries share the event — and so its id — which is how receivers
// are expected to deduplicate.
import { noSuchResource } from './errors.js';
import type { Params } from './form.js';
import { newId, unixNow } from './ids.js';
import { paginate, type ListPage, type RequestContext } from './payment-intents.js';
import type { EventObject, StripeEvent } from './types.js';

export class EventLog {
  private events: StripeEvent[] = [];

  constructor(private readonly apiVersion: string) {}

  record(type: string, object: EventObject, ctx: RequestContext, pendingWebhooks: number): StripeEvent {
    const event: StripeEvent = {
      id: newId('evt'),
      object: 'event',
      api_version: this.apiVersion,
      created: unixNow(),
      data: { object },
      livemode: false,
      pending_webhooks: pendingWebhooks,
      request: { id: ctx.requestId, idempotency_key: ctx.idempotencyKey },
      type,
    };
    this.events.push(event);
    return event;
  }

  all(): StripeEvent[] {
    return this.events.map((e) => structuredClone(e));
  }

  get(id: string): StripeEvent {
    const e = this.events.find((x) => x.id === id);
    if (!e) throw noSuchResource('event', id);
    return structuredClone(e);
  }

  list(p: Params): ListPage<StripeEvent> {
    let items = [...this.events].reverse();
    const type = p.string('type');
    if (type !== undefined) {
      // Stripe accepts a trailing wildcard: `type=payment_intent.*`.
      const prefix = type.endsWith('*') ? type.slice(0, -1) : null;
      items = items.filter((e) => (prefix !== null ? e.type.startsWith(prefix) : e.type === type));
    }
    return paginate(items, p, '/v1/events', (e) => structuredClone(e));
  }

  reset(): void {
    this.events = [];
  }
}
