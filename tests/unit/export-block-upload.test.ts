import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlockUpload, type BlockTarget } from '../../shared/services/export/block-upload.js';

/** An in-memory block blob whose stage calls finish only when the test says so (or at once). */
class FakeBlob implements BlockTarget {
  readonly staged = new Map<string, Buffer>();
  readonly pending: { id: string; settle: (error?: Error) => void }[] = [];
  readonly backingBuffers = new Set<ArrayBufferLike>();
  committed: string[] | undefined;
  commitOptions: unknown;
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    private readonly manual = false,
    private readonly failAt = -1,
  ) {}

  stageBlock(
    id: string,
    body: Buffer,
    _length: number,
    options: { abortSignal: AbortSignal },
  ): Promise<unknown> {
    this.backingBuffers.add(body.buffer);
    // Copied now: the uploader reuses the buffer once the stage has finished.
    const copy = Buffer.from(body);
    const index = this.staged.size + this.pending.length;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve, reject) => {
      const settle = (error?: Error): void => {
        this.inFlight--;
        if (error) reject(error);
        else {
          this.staged.set(id, copy);
          resolve({});
        }
      };
      const error = index === this.failAt ? new Error('stage failed') : undefined;
      if (!this.manual) {
        setImmediate(() => settle(error));
        return;
      }
      const entry = { id, settle };
      this.pending.push(entry);
      options.abortSignal.addEventListener('abort', () => {
        this.pending.splice(this.pending.indexOf(entry), 1);
        settle(new Error('stage aborted'));
      });
    });
  }

  commitBlockList(ids: string[], options: unknown): Promise<unknown> {
    this.committed = ids;
    this.commitOptions = options;
    return Promise.resolve({});
  }

  content(): string {
    return Buffer.concat(this.committed!.map((id) => this.staged.get(id)!)).toString('utf8');
  }
}

async function write(upload: BlockUpload, parts: string[]): Promise<void> {
  for (const part of parts) await upload.append(part);
}

describe('export block upload', () => {
  it('reassembles any text exactly, multi-byte characters split across blocks included', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 24 }),
        async (parts, blockSize) => {
          const blob = new FakeBlob();
          const upload = new BlockUpload(blob, { blockSize, buffers: 2 });
          await write(upload, parts);
          await upload.commit({ metadata: { k: 'v' } });
          const text = parts.join('');
          expect(blob.content()).toBe(text);
          expect(upload.bytes).toBe(Buffer.byteLength(text));
          for (const block of blob.staged.values()) expect(block.length).toBeLessThanOrEqual(blockSize);
          const ids = blob.committed!;
          expect(new Set(ids).size).toBe(ids.length);
          expect(new Set(ids.map((id) => id.length)).size).toBeLessThanOrEqual(1);
          expect(blob.commitOptions).toMatchObject({ metadata: { k: 'v' } });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('holds at most `buffers` blocks: the writer waits while they are all staging', async () => {
    const blob = new FakeBlob(true);
    const upload = new BlockUpload(blob, { blockSize: 8, buffers: 3 });
    const row = 'abcdefgh';
    // Three blocks fill (and two are staged) without any stage finishing; the fourth needs a buffer back.
    for (let i = 0; i < 3; i++) await upload.append(row);
    let resumed = false;
    const waiting = upload.append(row)!;
    expect(waiting).toBeInstanceOf(Promise);
    void waiting.then(() => (resumed = true));
    await new Promise((r) => setImmediate(r));
    expect(resumed).toBe(false);
    expect(blob.pending).toHaveLength(3);
    blob.pending.shift()!.settle();
    await waiting;
    expect(resumed).toBe(true);
    const commit = upload.commit({});
    while (blob.pending.length > 0 || !blob.committed) {
      blob.pending.shift()?.settle();
      await new Promise((r) => setImmediate(r));
    }
    await commit;
    expect(blob.content()).toBe(row.repeat(4));
    expect(blob.maxInFlight).toBe(3);
    expect(blob.backingBuffers.size).toBeLessThanOrEqual(3);
  });

  it('reuses its buffers however long the upload', async () => {
    const blob = new FakeBlob();
    const upload = new BlockUpload(blob, { blockSize: 64, buffers: 2 });
    const rows = Array.from({ length: 2000 }, (_, i) => `row ${i},Königstraße,"🚀"\r\n`);
    await write(upload, rows);
    await upload.commit({});
    expect(blob.content()).toBe(rows.join(''));
    expect(blob.staged.size).toBeGreaterThan(500);
    expect(blob.backingBuffers.size).toBeLessThanOrEqual(2);
  });

  it('a failed stage fails the writer and the commit; nothing is committed', async () => {
    const blob = new FakeBlob(false, 1);
    const upload = new BlockUpload(blob, { blockSize: 4, buffers: 2 });
    await expect(
      write(
        upload,
        Array.from({ length: 20 }, () => 'abcd'),
      ),
    ).rejects.toThrow('stage failed');
    await expect(upload.commit({})).rejects.toThrow('stage failed');
    expect(blob.committed).toBeUndefined();
  });

  it('abort releases a waiting writer and prevents the commit', async () => {
    const blob = new FakeBlob(true);
    const upload = new BlockUpload(blob, { blockSize: 4, buffers: 1 });
    await upload.append('abcd');
    const waiting = upload.append('efgh')!;
    upload.abort();
    await expect(waiting).rejects.toThrow('aborted');
    await expect(upload.commit({})).rejects.toThrow();
    expect(blob.committed).toBeUndefined();
  });
});
