import { randomUUID } from 'node:crypto';
import type { BlockBlobCommitBlockListOptions } from '@azure/storage-blob';

export interface BlockUploadOptions {
  /** Bytes per staged block (the block size in the blob). */
  blockSize: number;
  /** Blocks held at once: one being filled, the others staging. The memory bound is their product. */
  buffers: number;
}

/** What the upload needs of a `BlockBlobClient` (a fake in unit tests). */
export interface BlockTarget {
  stageBlock(
    blockId: string,
    body: Buffer,
    contentLength: number,
    options: { abortSignal: AbortSignal },
  ): Promise<unknown>;
  commitBlockList(blockIds: string[], options: BlockBlobCommitBlockListOptions): Promise<unknown>;
}

/** 4 MiB blocks keep an export of up to ~195 GiB under Blob Storage's 50,000-block limit. */
export const EXPORT_BLOCK_UPLOAD: BlockUploadOptions = { blockSize: 4 * 1024 * 1024, buffers: 3 };

/**
 * Text → block blob through a fixed set of reused block buffers: text is encoded straight into the
 * block being filled, a full block is staged while the next one fills, and when every buffer is
 * staging the writer waits (the caller's backpressure). Memory is `blockSize × buffers` whatever
 * the blob's size.
 *
 * Not `uploadStream`: it copies each incoming chunk into its own pooled buffers, so the producer's
 * chunks are a second, short-lived copy of every byte. Those chunks outlive young-generation GCs while
 * they queue, and V8 frees such external memory only at full GCs, which external pressure starts
 * after tens of MB — the export's peak RSS grew with its length because of them.
 *
 * Like `uploadStream`, nothing is visible until `commit`: the blob (same name on a redelivery) is
 * replaced whole by the committed block list; staged blocks never committed expire on their own.
 */
export class BlockUpload {
  /** Bytes appended so far. */
  bytes = 0;
  private block: Buffer | undefined;
  private used = 0;
  private allocated = 0;
  private readonly free: Buffer[] = [];
  private readonly blockIds: string[] = [];
  private readonly idPrefix = randomUUID();
  private readonly staging = new Set<Promise<void>>();
  private readonly aborter = new AbortController();
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly blob: BlockTarget,
    private readonly options: BlockUploadOptions = EXPORT_BLOCK_UPLOAD,
  ) {}

  /**
   * Appends text as UTF-8. Returns a promise when the text is not in a block yet (a block was staged
   * and the next buffer may have to come back from staging); the caller must wait for it before the
   * next append. Otherwise the text is already in the block.
   */
  append(text: string): Promise<void> | undefined {
    const block = this.block;
    // A UTF-16 code unit never needs more than 3 bytes of UTF-8: the fast path needs no byte count.
    if (block && block.length - this.used >= text.length * 3) {
      const written = block.write(text, this.used, 'utf8');
      this.used += written;
      this.bytes += written;
      return undefined;
    }
    return this.appendAcrossBlocks(Buffer.from(text, 'utf8'));
  }

  /** Stages what is left, waits for every block, then commits the list with the blob's headers. */
  async commit(options: BlockBlobCommitBlockListOptions): Promise<void> {
    if (this.block && this.used > 0) this.stageCurrent();
    while (this.staging.size > 0) await Promise.all(this.staging);
    if (this.failure) throw this.failure;
    await this.blob.commitBlockList(this.blockIds, { ...options, abortSignal: this.aborter.signal });
  }

  /** Cancels the blocks still staging (the export failed elsewhere); nothing is committed. */
  abort(): void {
    this.failure ??= new Error('export upload aborted');
    this.aborter.abort();
    this.wakeWriter();
  }

  /** The rare path: the text may not fit in what is left of the block, so it is copied piecewise. */
  private async appendAcrossBlocks(bytes: Buffer): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (!this.block || this.used === this.block.length) {
        if (this.block) this.stageCurrent();
        this.block = await this.nextBuffer();
        this.used = 0;
      }
      const copied = bytes.copy(this.block, this.used, offset);
      this.used += copied;
      this.bytes += copied;
      offset += copied;
    }
  }

  private stageCurrent(): void {
    const buffer = this.block!;
    const body = buffer.subarray(0, this.used);
    this.block = undefined;
    this.used = 0;
    // Same length for every id, as the service requires; the index keeps the order explicit.
    const id = Buffer.from(`${this.idPrefix}-${String(this.blockIds.length).padStart(6, '0')}`).toString(
      'base64',
    );
    this.blockIds.push(id);
    const staged: Promise<void> = this.blob
      .stageBlock(id, body, body.length, { abortSignal: this.aborter.signal })
      .then(
        () => {
          // Reused only once the request is over: until then the socket may still be sending it.
          this.free.push(buffer);
        },
        (error: unknown) => {
          this.failure ??= error instanceof Error ? error : new Error(String(error));
        },
      )
      .finally(() => {
        this.staging.delete(staged);
        this.wakeWriter();
      });
    this.staging.add(staged);
  }

  private async nextBuffer(): Promise<Buffer> {
    for (;;) {
      if (this.failure) throw this.failure;
      const reused = this.free.pop();
      if (reused) return reused;
      if (this.allocated < this.options.buffers) {
        this.allocated++;
        return Buffer.allocUnsafe(this.options.blockSize);
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private wakeWriter(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
