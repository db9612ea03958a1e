import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { MgetBatcher } from '../../../shared/cache/mget-batch.js';

/** A stand-in with only MGET: records each command and answers when the test says so. */
function fakeRedis(store: Record<string, string>) {
  const commands: string[][] = [];
  const pending: { resolve: () => void; fail: (error: Error) => void }[] = [];
  const client = {
    mget(keys: string[]): Promise<(string | null)[]> {
      commands.push([...keys]);
      return new Promise((resolve, reject) => {
        pending.push({
          resolve: () => resolve(keys.map((k) => store[k] ?? null)),
          fail: (error) => reject(error),
        });
      });
    },
  };
  return { client: client as unknown as Redis, commands, pending };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('MgetBatcher', () => {
  it('sends the reads of one turn as one MGET and gives each read its own values', async () => {
    const redis = fakeRedis({ a: '1', b: '2', c: '3' });
    const batcher = new MgetBatcher(redis.client);
    const reads = [batcher.mget(['a', 'b']), batcher.mget(['c']), batcher.mget(['x', 'a'])];
    await turn();
    expect(redis.commands).toEqual([['a', 'b', 'c', 'x', 'a']]);
    redis.pending[0]!.resolve();
    expect(await Promise.all(reads)).toEqual([['1', '2'], ['3'], [null, '1']]);
  });

  it('keeps one batch in flight: reads arriving meanwhile leave together when it answers', async () => {
    const redis = fakeRedis({ a: '1', b: '2' });
    const batcher = new MgetBatcher(redis.client);
    const first = batcher.mget(['a']);
    await turn();
    const second = [batcher.mget(['b']), batcher.mget(['a'])];
    await turn();
    expect(redis.commands).toHaveLength(1);
    redis.pending[0]!.resolve();
    expect(await first).toEqual(['1']);
    expect(redis.commands).toEqual([['a'], ['b', 'a']]);
    redis.pending[1]!.resolve();
    expect(await Promise.all(second)).toEqual([['2'], ['1']]);
  });

  it('fails the batch and every read queued behind it when the command fails, then recovers', async () => {
    const redis = fakeRedis({ a: '1' });
    const batcher = new MgetBatcher(redis.client);
    const first = batcher.mget(['a']);
    await turn();
    const queued = batcher.mget(['a']);
    redis.pending[0]!.fail(new Error('Command timed out'));
    await expect(first).rejects.toThrow('Command timed out');
    await expect(queued).rejects.toThrow('Command timed out');
    expect(redis.commands).toHaveLength(1);
    const later = batcher.mget(['a']);
    await turn();
    redis.pending[1]!.resolve();
    expect(await later).toEqual(['1']);
  });

  it('splits a very large turn into several MGETs of at most 1000 keys, sent one after another', async () => {
    const redis = fakeRedis({});
    const batcher = new MgetBatcher(redis.client);
    const reads = Array.from({ length: 600 }, (_, i) => batcher.mget([`g${i}`, `k${i}`]));
    await turn();
    expect(redis.commands.map((c) => c.length)).toEqual([1000]);
    redis.pending[0]!.resolve();
    await reads[499];
    expect(redis.commands.map((c) => c.length)).toEqual([1000, 200]);
    redis.pending[1]!.resolve();
    const values = await Promise.all(reads);
    expect(values.every((v) => v.length === 2 && v[0] === null)).toBe(true);
  });

  it('turns a synchronous throw of the client into a rejection', async () => {
    const client = {
      mget: () => {
        throw new Error('Connection is closed.');
      },
    } as unknown as Redis;
    await expect(new MgetBatcher(client).mget(['a'])).rejects.toThrow('Connection is closed.');
  });
});
