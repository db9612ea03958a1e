import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import { bigintNumber, timestamps } from './common.js';

export type ExportStatus = 'queued' | 'running' | 'completed' | 'failed';

export class ExportJob {
  [OptionalProps]?:
    | 'status'
    | 'statusFilter'
    | 'rowsExported'
    | 'bytes'
    | 'blobName'
    | 'error'
    | 'attempts'
    | 'startedAt'
    | 'completedAt'
    | 'createdAt'
    | 'updatedAt';
  id!: string;
  tenantId!: string;
  requestedBy!: string;
  status: ExportStatus = 'queued';
  rangeFrom!: Date;
  rangeTo!: Date;
  statusFilter: string | null = null;
  rowsExported = 0;
  bytes = 0;
  blobName: string | null = null;
  error: string | null = null;
  attempts = 0;
  startedAt: Date | null = null;
  completedAt: Date | null = null;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const ExportJobSchema = new EntitySchema<ExportJob>({
  class: ExportJob,
  tableName: 'export_jobs',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    requestedBy: { type: 'uuid' },
    status: { type: 'text' },
    rangeFrom: { type: 'Date', columnType: 'timestamptz' },
    rangeTo: { type: 'Date', columnType: 'timestamptz' },
    statusFilter: { type: 'text', nullable: true },
    rowsExported: { type: bigintNumber() },
    bytes: { type: bigintNumber() },
    blobName: { type: 'text', nullable: true },
    error: { type: 'text', nullable: true },
    attempts: { type: 'integer' },
    startedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    completedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    ...timestamps,
  },
});
