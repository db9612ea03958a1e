import './lib/telemetry-start.js';
import { IdParams } from '../shared/schemas/common.js';
import { ExportAccepted, ExportRequest, ExportStatus } from '../shared/schemas/exports.js';
import { ExportService } from '../shared/services/export/export-service.js';
import { defineRoute } from './lib/route.js';

export const requestExport = defineRoute({
  name: 'requestOrderExport',
  method: 'POST',
  route: 'manage/orders/exports',
  access: 'admin',
  tags: ['admin'],
  summary: 'Export orders in a date range to CSV',
  description:
    'Queues a streamed CSV export of the tenant’s orders; poll the Location for progress and the link.',
  body: ExportRequest,
  responses: {
    202: {
      description: 'Queued',
      headers: { Location: { schema: { type: 'string' }, description: 'Status URL' } },
      content: { 'application/json': { schema: ExportAccepted } },
    },
  },
  handler: async ({ body, domain, principal }) => {
    const { job, dispatch } = new ExportService(domain).create(principal!.userId, body);
    return {
      status: 202,
      body: { exportId: job.id },
      headers: { location: `/api/manage/orders/exports/${job.id}` },
      afterCommit: dispatch,
    };
  },
});

export const exportStatus = defineRoute({
  name: 'getOrderExport',
  method: 'GET',
  route: 'manage/orders/exports/{id}',
  access: 'admin',
  tags: ['admin'],
  summary: 'Export status, progress and download link',
  params: IdParams,
  responses: { 200: { description: 'Status', content: { 'application/json': { schema: ExportStatus } } } },
  handler: async ({ params, domain }) => ({
    body: await new ExportService(domain).status(params.id),
    headers: { 'cache-control': 'no-store' },
  }),
});
