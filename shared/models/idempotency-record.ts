import { EntitySchema, JsonType, OptionalProps } from '@mikro-orm/core';

/** The stored answer to a request made with an Idempotency-Key, replayed for a repeat of the same key. */
export class IdempotencyRecord {
  [OptionalProps]?: 'responseStatus' | 'responseBody' | 'createdAt';
  id!: string;
  tenantId!: string;
  userId!: string;
  scope!: string;
  key!: string;
  requestHash!: string;
  responseStatus: number | null = null;
  responseBody: unknown = null;
  createdAt: Date = new Date();
}

export const IdempotencyRecordSchema = new EntitySchema<IdempotencyRecord>({
  class: IdempotencyRecord,
  tableName: 'idempotency_records',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    userId: { type: 'uuid' },
    scope: { type: 'text' },
    key: { type: 'text' },
    requestHash: { type: 'text' },
    responseStatus: { type: 'integer', nullable: true },
    responseBody: { type: JsonType, nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});
