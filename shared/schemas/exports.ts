import { ORDER_STATUSES } from '../models/order.js';
import { Uuid } from './common.js';
import { z } from './zod.js';

export const ExportRequest = z
  .object({
    from: z.iso.datetime({ offset: true }).openapi({ example: '2026-01-01T00:00:00Z' }),
    to: z.iso.datetime({ offset: true }).openapi({ example: '2026-12-31T23:59:59Z' }),
    status: z.enum(ORDER_STATUSES).optional(),
  })
  .strict()
  .refine((r) => Date.parse(r.from) < Date.parse(r.to), {
    message: '`from` must be before `to`',
    path: ['to'],
  })
  .openapi('ExportRequest', {
    description: 'Orders created in [from, to). No cap on the range: exports stream.',
  });

export const ExportAccepted = z.object({ exportId: Uuid }).openapi('ExportAccepted');

export const ExportStatus = z
  .object({
    id: Uuid,
    status: z.enum(['queued', 'running', 'completed', 'failed']),
    rowsExported: z.number().int(),
    downloadUrl: z.url().optional().openapi({ description: 'Read-only link, valid until expiresAt.' }),
    expiresAt: z.iso.datetime().optional(),
    error: z.string().optional(),
  })
  .openapi('ExportStatus');

export type ExportStatusBody = z.infer<typeof ExportStatus>;
