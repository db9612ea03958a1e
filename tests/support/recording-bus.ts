import type { MessageSender, OutgoingMessage } from '../../shared/messaging/types.js';
import { setLocalMessageBus } from '../../shared/messaging/local-bus.js';

/** A message bus for in-process tests: records what was sent, per queue. */
export class RecordingBus implements MessageSender {
  readonly sent: { queue: string; message: OutgoingMessage }[] = [];

  async send(queue: string, message: OutgoingMessage): Promise<void> {
    this.sent.push({ queue, message });
  }

  async close(): Promise<void> {}

  on(queue: string): OutgoingMessage[] {
    return this.sent.filter((s) => s.queue === queue).map((s) => s.message);
  }
}

export function installRecordingBus(): RecordingBus {
  const bus = new RecordingBus();
  setLocalMessageBus(bus);
  return bus;
}
