import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { HostLogger } from '../types.js';

/**
 * In-process queues with Service Bus peek-lock semantics: a delivered message is locked and its
 * `deliveryCount` incremented; the handler's success completes it, a throw abandons it (redelivered),
 * and the delivery that reaches `maxDeliveryCount` and still fails moves it to the dead-letter list.
 * Delivery is at-least-once within the process; nothing survives a restart (the real broker does).
 */

export type ApplicationProperties = Record<string, string | number | boolean>;

export interface BusMessageInit {
  body: unknown;
  messageId?: string;
  contentType?: string;
  scheduledEnqueueTime?: Date;
  applicationProperties?: ApplicationProperties;
}

export interface BusMessage {
  readonly messageId: string;
  readonly body: unknown;
  readonly contentType: string | undefined;
  readonly applicationProperties: ApplicationProperties;
  readonly sequenceNumber: number;
  readonly enqueuedTime: Date;
  readonly scheduledEnqueueTime: Date | undefined;
  deliveryCount: number;
  lockToken: string | undefined;
  lockedUntil: Date | undefined;
}

export interface DeadLetteredMessage {
  queue: string;
  message: BusMessage;
  reason: 'MaxDeliveryCountExceeded';
  description: string;
  deadLetteredAt: Date;
}

export interface QueueListener {
  /** Shown in logs (the function name). */
  name: string;
  /** 'many' hands the handler a batch, as a `cardinality: 'many'` trigger expects. */
  cardinality: 'one' | 'many';
  handle(messages: BusMessage[]): Promise<void>;
}

export interface LocalBusOptions {
  maxDeliveryCount: number;
  /** Per listener, like host.json `extensions.serviceBus.maxConcurrentCalls`. */
  maxConcurrentCalls: number;
  /** Same messageId within this window is dropped (Service Bus duplicate detection); default 10 min. */
  duplicateDetectionWindowMs?: number;
  /** Delay before an abandoned message is visible again; 0 = at once, as Service Bus does. */
  redeliveryDelayMs?: number;
  maxBatchSize?: number;
  logger: HostLogger;
}

export interface SendResult {
  accepted: boolean;
  messageId: string;
}

interface ListenerState {
  listener: QueueListener;
  inFlight: number;
}

class QueueState {
  active: BusMessage[] = [];
  scheduled: BusMessage[] = [];
  locked = new Map<string, BusMessage>();
  deadLetters: DeadLetteredMessage[] = [];
  seen = new Map<string, number>();
  listeners: ListenerState[] = [];
  nextListener = 0;
  timer: NodeJS.Timeout | undefined;
  timerAt = Infinity;
}

/** What the bus does with a body: the copy a broker would hand back, not the sender's object. */
function snapshotBody(body: unknown): unknown {
  if (body === undefined || body === null || typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  return JSON.parse(JSON.stringify(body)) as unknown;
}

export class LocalServiceBus extends EventEmitter<{
  deadLetter: [DeadLetteredMessage];
  idle: [];
}> {
  readonly maxDeliveryCount: number;
  readonly maxConcurrentCalls: number;
  #queues = new Map<string, QueueState>();
  #sequence = 0;
  #running = true;
  #inFlight = new Set<Promise<void>>();
  #options: Required<Omit<LocalBusOptions, 'logger'>> & { logger: HostLogger };

  constructor(options: LocalBusOptions) {
    super();
    this.#options = {
      duplicateDetectionWindowMs: 10 * 60_000,
      redeliveryDelayMs: 0,
      maxBatchSize: 1000, // the Functions default for maxMessageBatchSize
      ...options,
    };
    this.maxDeliveryCount = options.maxDeliveryCount;
    this.maxConcurrentCalls = options.maxConcurrentCalls;
  }

  #queue(name: string): QueueState {
    const key = name.toLowerCase(); // Service Bus entity names are case-insensitive.
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = new QueueState();
      this.#queues.set(key, queue);
    }
    return queue;
  }

  /** Enqueues one message; a messageId seen within the duplicate-detection window is dropped. */
  send(queueName: string, init: BusMessageInit): SendResult {
    const queue = this.#queue(queueName);
    const now = Date.now();
    for (const [id, at] of queue.seen)
      if (now - at > this.#options.duplicateDetectionWindowMs) queue.seen.delete(id);
    const messageId = init.messageId ?? randomUUID().replace(/-/g, '');
    if (init.messageId !== undefined && queue.seen.has(messageId)) {
      this.#options.logger.debug(`[service bus] ${queueName}: duplicate messageId ${messageId} dropped`);
      return { accepted: false, messageId };
    }
    queue.seen.set(messageId, now);
    const message: BusMessage = {
      messageId,
      body: snapshotBody(init.body),
      contentType: init.contentType,
      applicationProperties: { ...init.applicationProperties },
      sequenceNumber: ++this.#sequence,
      enqueuedTime: new Date(now),
      scheduledEnqueueTime: init.scheduledEnqueueTime,
      deliveryCount: 0,
      lockToken: undefined,
      lockedUntil: undefined,
    };
    if (init.scheduledEnqueueTime && init.scheduledEnqueueTime.getTime() > now) {
      queue.scheduled.push(message);
      queue.scheduled.sort((a, b) => a.scheduledEnqueueTime!.getTime() - b.scheduledEnqueueTime!.getTime());
      this.#armTimer(queueName, queue);
    } else {
      queue.active.push(message);
      this.#pump(queueName, queue);
    }
    return { accepted: true, messageId };
  }

  /** Starts delivering a queue's messages to `listener` (competing consumers if several subscribe). */
  subscribe(queueName: string, listener: QueueListener): () => void {
    const queue = this.#queue(queueName);
    const state: ListenerState = { listener, inFlight: 0 };
    queue.listeners.push(state);
    setImmediate(() => this.#pump(queueName, queue));
    return () => {
      queue.listeners = queue.listeners.filter((l) => l !== state);
    };
  }

  /** Messages not yet completed: waiting, scheduled and locked (being handled). */
  peek(queueName: string): BusMessage[] {
    const queue = this.#queue(queueName);
    return [...queue.locked.values(), ...queue.active, ...queue.scheduled];
  }

  deadLetters(queueName?: string): DeadLetteredMessage[] {
    if (queueName !== undefined) return [...this.#queue(queueName).deadLetters];
    return [...this.#queues.values()].flatMap((q) => q.deadLetters);
  }

  queueNames(): string[] {
    return [...this.#queues.keys()];
  }

  /** Resolves when no message is waiting (with a listener) or being handled; scheduled ones do not count. */
  async idle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#isIdle()) {
      if (Date.now() > deadline) throw new Error('Service Bus queues did not become idle in time');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  #isIdle(): boolean {
    for (const queue of this.#queues.values()) {
      if (queue.locked.size > 0) return false;
      if (queue.active.length > 0 && queue.listeners.length > 0) return false;
    }
    return true;
  }

  /** Stops delivering and waits for handlers already running (their outcome is still recorded). */
  async stop(): Promise<void> {
    this.#running = false;
    for (const queue of this.#queues.values()) if (queue.timer) clearTimeout(queue.timer);
    await Promise.allSettled([...this.#inFlight]);
  }

  #armTimer(queueName: string, queue: QueueState): void {
    const next = queue.scheduled[0];
    if (!next || !this.#running) return;
    const at = next.scheduledEnqueueTime!.getTime();
    if (queue.timer && queue.timerAt <= at) return;
    if (queue.timer) clearTimeout(queue.timer);
    queue.timerAt = at;
    // setTimeout cannot wait longer than ~24.8 days; re-arm in steps.
    queue.timer = setTimeout(
      () => {
        queue.timer = undefined;
        queue.timerAt = Infinity;
        const now = Date.now();
        while (queue.scheduled[0] && queue.scheduled[0].scheduledEnqueueTime!.getTime() <= now)
          queue.active.push(queue.scheduled.shift()!);
        queue.active.sort((a, b) => a.sequenceNumber - b.sequenceNumber);
        this.#armTimer(queueName, queue);
        this.#pump(queueName, queue);
      },
      Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1),
    );
    queue.timer.unref();
  }

  #pump(queueName: string, queue: QueueState): void {
    if (!this.#running) return;
    const count = queue.listeners.length;
    for (let tried = 0; tried < count && queue.active.length > 0;) {
      const state = queue.listeners[queue.nextListener % count]!;
      if (state.inFlight >= this.#concurrencyOf(state.listener)) {
        queue.nextListener++;
        tried++;
        continue;
      }
      const take = state.listener.cardinality === 'many' ? this.#options.maxBatchSize : 1;
      const batch = queue.active.splice(0, take);
      queue.nextListener++;
      tried = 0;
      this.#deliver(queueName, queue, state, batch);
    }
  }

  /**
   * maxConcurrentCalls is for single-message functions; the Functions Service Bus extension runs a batch
   * function's receive loop at a concurrency of 1 (Azure/azure-sdk-for-net,
   * sdk/servicebus/Microsoft.Azure.WebJobs.Extensions.ServiceBus/src/Listeners/ServiceBusListener.cs,
   * RunBatchReceiveLoopAsync), so messages arriving meanwhile wait and form the next batch.
   */
  #concurrencyOf(listener: QueueListener): number {
    return listener.cardinality === 'many' ? 1 : this.maxConcurrentCalls;
  }

  #deliver(queueName: string, queue: QueueState, state: ListenerState, batch: BusMessage[]): void {
    for (const message of batch) {
      message.deliveryCount++;
      message.lockToken = randomUUID();
      message.lockedUntil = new Date(Date.now() + 60_000);
      queue.locked.set(message.lockToken, message);
    }
    state.inFlight++;
    const work = (async () => {
      let failure: unknown;
      try {
        await state.listener.handle(batch);
      } catch (error) {
        failure = error;
      }
      state.inFlight--;
      for (const message of batch) {
        queue.locked.delete(message.lockToken!);
        message.lockToken = undefined;
        message.lockedUntil = undefined;
        if (failure === undefined) continue;
        if (message.deliveryCount >= this.maxDeliveryCount)
          this.#deadLetter(queueName, queue, message, failure);
        else this.#abandon(queueName, queue, message);
      }
    })();
    this.#inFlight.add(work);
    void work.finally(() => {
      this.#inFlight.delete(work);
      this.#pump(queueName, queue);
      if (this.#isIdle()) this.emit('idle');
    });
  }

  #abandon(queueName: string, queue: QueueState, message: BusMessage): void {
    const delay = this.#options.redeliveryDelayMs;
    if (delay <= 0) {
      // Back in sequence order: Service Bus makes an abandoned message available again at once.
      const index = queue.active.findIndex((m) => m.sequenceNumber > message.sequenceNumber);
      queue.active.splice(index < 0 ? queue.active.length : index, 0, message);
      return;
    }
    const visible: BusMessage = { ...message, scheduledEnqueueTime: new Date(Date.now() + delay) };
    queue.scheduled.push(visible);
    queue.scheduled.sort((a, b) => a.scheduledEnqueueTime!.getTime() - b.scheduledEnqueueTime!.getTime());
    this.#armTimer(queueName, queue);
  }

  #deadLetter(queueName: string, queue: QueueState, message: BusMessage, failure: unknown): void {
    const description = failure instanceof Error ? failure.message : String(failure);
    const entry: DeadLetteredMessage = {
      queue: queueName,
      message,
      reason: 'MaxDeliveryCountExceeded',
      description,
      deadLetteredAt: new Date(),
    };
    queue.deadLetters.push(entry);
    this.#options.logger.warn(
      `[service bus] ${queueName}: message ${message.messageId} dead-lettered after ${message.deliveryCount} deliveries (MaxDeliveryCountExceeded): ${description}`,
    );
    this.emit('deadLetter', entry);
  }
}
