import { getSettings } from '../../config/index.js';
import { NotFoundException, ServiceUnavailableException } from '../../errors/index.js';
import { getStreamPool } from '../../db/stream-pool.js';
import { getMessageSender } from '../../messaging/index.js';
import { ExportJob, type OrderStatus } from '../../models/index.js';
import type { ExportStatusBody } from '../../schemas/exports.js';
import { exportBlob, readOnlyLink } from '../../storage/blob.js';
import { newId } from '../../utils/ids.js';
import type { DomainContext } from '../context.js';
import type { ExportMessage } from './export-runner.js';

export interface ExportRequestInput {
  from: string;
  to: string;
  status?: OrderStatus;
}

export class ExportService {
  constructor(private readonly ctx: DomainContext) {}

  /** Creates the job in the invocation's transaction; `dispatch` must run after it commits. */
  create(requestedBy: string, input: ExportRequestInput): { job: ExportJob; dispatch: () => Promise<void> } {
    const job = this.ctx.em.create(ExportJob, {
      id: newId(),
      tenantId: this.ctx.tenantId,
      requestedBy,
      rangeFrom: new Date(input.from),
      rangeTo: new Date(input.to),
      statusFilter: input.status ?? null,
    });
    const message: ExportMessage = { exportId: job.id, tenantId: this.ctx.tenantId };
    // messageId = export id: Service Bus duplicate detection drops a re-send of the same request.
    const dispatch = async (): Promise<void> => {
      try {
        await getMessageSender().send(getSettings().EXPORT_QUEUE_NAME, { body: message, messageId: job.id });
      } catch (error) {
        // The job row committed but no worker will ever see it: say so on the job, then fail the request.
        await getStreamPool()
          .query(
            `update export_jobs set status = 'failed', error = 'could not be queued', updated_at = now() where id = $1`,
            [job.id],
          )
          .catch(() => undefined);
        this.ctx.log.error(
          `export ${job.id}: queueing failed`,
          error instanceof Error ? error.message : String(error),
        );
        throw new ServiceUnavailableException('The export could not be queued; try again.');
      }
    };
    return { job, dispatch };
  }

  async status(exportId: string, now = new Date()): Promise<ExportStatusBody> {
    const job = await this.ctx.em.findOne(ExportJob, { id: exportId, tenantId: this.ctx.tenantId });
    if (!job) throw new NotFoundException('Export not found.');
    const body: ExportStatusBody = { id: job.id, status: job.status, rowsExported: job.rowsExported };
    if (job.status === 'completed' && job.blobName) {
      const expiresAt = new Date(now.getTime() + getSettings().EXPORT_LINK_TTL_SECONDS * 1000);
      body.downloadUrl = await readOnlyLink(
        exportBlob(getSettings().EXPORT_CONTAINER, job.blobName),
        expiresAt,
        now,
      );
      body.expiresAt = expiresAt.toISOString();
    }
    if (job.error && job.status !== 'completed') body.error = job.error;
    return body;
  }
}
