import { EntitySchema, JsonType, OptionalProps } from '@mikro-orm/core';

/** Written in the same transaction as the audited change; a relay copies it to the audit database. */
export class AuditOutbox {
  [OptionalProps]?: 'relayedAt' | 'createdAt';
  id!: string;
  tenantId!: string;
  entity!: string;
  entityId!: string;
  action!: string;
  payload!: Record<string, unknown>;
  relayedAt: Date | null = null;
  createdAt: Date = new Date();
}

export const AuditOutboxSchema = new EntitySchema<AuditOutbox>({
  class: AuditOutbox,
  tableName: 'audit_outbox',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    entity: { type: 'text' },
    entityId: { type: 'uuid' },
    action: { type: 'text' },
    payload: { type: JsonType },
    relayedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});
