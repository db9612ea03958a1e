/**
 * Password hashing with bcryptjs in a pool of worker threads.
 *
 * Why workers: bcryptjs is pure JavaScript. At cost 12 one hash is ~215 ms of CPU; its async API still
 * runs ~100 ms slices on the main thread, so every login stalled every other request on the instance by
 * 100–400 ms (docs: ANCHORS.md). In workers the main thread only posts messages, and both cores work.
 *
 * Pool behaviour:
 * - Workers start on demand, up to `poolSize` (default min(available cores, 4): bcrypt is CPU-bound, so
 *   more workers than cores only adds memory and contention).
 * - Two lanes (issue 19): checks of existing passwords (logins) and new hashes (registration, password
 *   change). A free worker always takes a waiting login first, so a registration flood delays a login
 *   by at most the hash a worker is finishing, never by the queue behind it. Within a lane, FIFO.
 *   (Reserving a worker for logins would halve registration throughput on 2 cores for no gain in
 *   that bound.)
 * - Each lane's queue is bounded (`maxQueued`): beyond it a call fails at once with
 *   PasswordHasherBusyError (503 + Retry-After) instead of waiting behind seconds of queued work while
 *   the client has long given up.
 * - A worker is ref'd only while it has a job: an idle pool never keeps the process alive, but a pending
 *   hash does (otherwise `await hasher.hash(…)` at the end of a script could exit before its result).
 * - A worker that dies is dropped and replaced on demand; the job it was running is retried once on a
 *   fresh worker, then rejected with PasswordHasherError (a job that crashes twice is not retried forever).
 * - `close()` terminates the workers and rejects everything pending.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ServiceUnavailableException } from '../errors/index.js';
import { createBcryptWorker, isBcryptResponse, type BcryptJob } from './bcrypt-worker.js';

/** The design card's cost. */
export const DEFAULT_BCRYPT_COST = 12;
export const MIN_PASSWORD_LENGTH = 12;
/** bcrypt's key schedule reads at most 72 bytes of the password. */
export const MAX_PASSWORD_BYTES = 72;
const MAX_POOL_SIZE = 4;

/** Base class, so callers can map every policy failure to one 400 response. */
export class PasswordPolicyError extends Error {}

/**
 * A password over 72 UTF-8 bytes. Rejected rather than truncated: bcrypt would silently ignore
 * everything after byte 72, so a long passphrase would be exactly as strong as its first 72 bytes while
 * its owner believes otherwise, and any two passwords sharing that prefix would match each other. With
 * multi-byte characters the cut can come after only 18 characters. Pre-hashing (bcrypt of a SHA-256)
 * would lift the limit but creates a hash format no other bcrypt verifier understands and has pitfalls
 * of its own (NUL bytes in raw digests, "hash shucking"); a clear limit is the honest choice.
 */
export class PasswordTooLongError extends PasswordPolicyError {
  readonly maxBytes = MAX_PASSWORD_BYTES;
  constructor() {
    super(
      `Password must be at most ${MAX_PASSWORD_BYTES} bytes in UTF-8 (fewer characters if they are not ASCII)`,
    );
    this.name = 'PasswordTooLongError';
  }
}

/** A password of fewer than 12 characters (Unicode code points, so one emoji counts once). */
export class PasswordTooShortError extends PasswordPolicyError {
  readonly minLength = MIN_PASSWORD_LENGTH;
  constructor() {
    super(`Password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    this.name = 'PasswordTooShortError';
  }
}

/** The pool failed (worker crashed twice, or the hasher was closed). Never carries the password. */
export class PasswordHasherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PasswordHasherError';
  }
}

/** A lane's queue is full: the caller should come back later (503 + Retry-After). */
export class PasswordHasherBusyError extends ServiceUnavailableException {
  constructor(retryAfterSeconds: number) {
    super('Password checks are saturated on this instance; retry shortly.');
    this.headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

export type HasherLane = 'verify' | 'hash';

export interface PasswordHasherOptions {
  /** Requests allowed to wait per lane before calls fail with PasswordHasherBusyError. Default 32. */
  maxQueued?: number;
  /** bcrypt cost (log2 rounds), 4–31. Default 12. */
  cost?: number;
  /** Worker threads. Default min(available cores, 4). */
  poolSize?: number;
  /** Starts a worker; for tests that need a misbehaving one. Default: the bcrypt worker. */
  workerFactory?: () => Worker;
}

/** min(available cores, 4), at least 1. */
export function defaultPoolSize(): number {
  return Math.max(1, Math.min(availableParallelism(), MAX_POOL_SIZE));
}

/** Characters as users count them: code points, not UTF-16 units (an emoji is one, not two). */
function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

function assertNotTooLong(password: string): void {
  if (typeof password !== 'string') throw new TypeError('Password must be a string');
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) throw new PasswordTooLongError();
}

const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function hashCost(hash: string): number | null {
  const match = BCRYPT_HASH.exec(hash);
  if (match === null) return null;
  const cost = Number(match[1]);
  return cost >= 4 && cost <= 31 ? cost : null;
}

function assertCost(cost: number): void {
  if (!Number.isInteger(cost) || cost < 4 || cost > 31) throw new RangeError('bcrypt cost must be 4–31');
}

/**
 * A well-formed hash nobody's password matches, at the given cost. bcrypt's work depends only on the
 * cost in the hash, so comparing against it costs exactly what a real verification costs, with no
 * start-up hashing (which would make the first unknown-user login slower than the others).
 * Random salt and checksum characters make a match impossible in practice (2^-184).
 */
function makeDummyHash(cost: number): string {
  const random = randomBytes(53);
  let body = '';
  for (const byte of random) body += BCRYPT_ALPHABET[byte & 63];
  return `$2b$${String(cost).padStart(2, '0')}$${body}`;
}

interface Job {
  readonly work: BcryptJob;
  readonly lane: HasherLane;
  readonly resolve: (value: string | boolean) => void;
  readonly reject: (error: Error) => void;
  attempts: number;
}

interface Slot {
  readonly worker: Worker;
  /** The job in flight and its request id; null when idle. */
  current: { readonly id: number; readonly job: Job } | null;
  /** Set when the worker reported an uncaught error, so the exit handler can say why. */
  failure: Error | null;
}

const MAX_ATTEMPTS = 2;
const DEFAULT_MAX_QUEUED = 32;
/** Roughly what one cost-12 hash takes on one core; only to size Retry-After. */
const HASH_SECONDS = 0.25;

class WorkerPool {
  readonly #size: number;
  readonly #factory: () => Worker;
  readonly #slots = new Set<Slot>();
  readonly #queues: Record<HasherLane, Job[]> = { verify: [], hash: [] };
  readonly #maxQueued: number;
  #nextId = 1;
  #closed = false;

  constructor(size: number, factory: () => Worker, maxQueued: number) {
    this.#size = size;
    this.#factory = factory;
    this.#maxQueued = maxQueued;
  }

  run(work: BcryptJob, lane: HasherLane): Promise<string | boolean> {
    if (this.#closed) return Promise.reject(new PasswordHasherError('PasswordHasher is closed'));
    const queue = this.#queues[lane];
    if (queue.length >= this.#maxQueued) {
      return Promise.reject(new PasswordHasherBusyError((queue.length * HASH_SECONDS) / this.#size));
    }
    return new Promise((resolve, reject) => {
      queue.push({ work, lane, resolve, reject, attempts: 0 });
      this.#dispatch();
    });
  }

  /** Jobs waiting in a lane (not yet on a worker). */
  queued(lane: HasherLane): number {
    return this.#queues[lane].length;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new PasswordHasherError('PasswordHasher is closed');
    for (const job of [...this.#queues.verify.splice(0), ...this.#queues.hash.splice(0)]) job.reject(closed);
    const slots = [...this.#slots];
    this.#slots.clear();
    for (const slot of slots) slot.current?.job.reject(closed);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /** The queue to serve next: checks of existing passwords (logins) first. */
  #nextQueue(): Job[] | null {
    if (this.#queues.verify.length > 0) return this.#queues.verify;
    return this.#queues.hash.length > 0 ? this.#queues.hash : null;
  }

  #dispatch(): void {
    for (let queue = this.#nextQueue(); !this.#closed && queue !== null; queue = this.#nextQueue()) {
      let slot: Slot | null;
      try {
        slot = this.#idleSlot() ?? this.#spawn();
      } catch {
        // The Worker constructor itself failed (resource limits): fail this request, keep the pool usable.
        queue.shift()?.reject(new PasswordHasherError('Could not start a bcrypt worker'));
        continue;
      }
      if (slot === null) return; // all busy: the next finished job dispatches again
      const job = queue.shift();
      if (job === undefined) return;
      const id = this.#nextId++;
      job.attempts += 1;
      slot.current = { id, job };
      slot.worker.ref();
      slot.worker.postMessage({ id, ...job.work });
    }
  }

  #idleSlot(): Slot | null {
    for (const slot of this.#slots) if (slot.current === null) return slot;
    return null;
  }

  #spawn(): Slot | null {
    if (this.#slots.size >= this.#size) return null;
    const worker = this.#factory();
    const slot: Slot = { worker, current: null, failure: null };
    worker.unref();
    worker.on('message', (message: unknown) => this.#onMessage(slot, message));
    // Without an 'error' listener an uncaught exception in the worker would crash this process.
    worker.on('error', (error: Error) => {
      slot.failure = error;
    });
    worker.on('exit', () => this.#onExit(slot));
    this.#slots.add(slot);
    return slot;
  }

  #onMessage(slot: Slot, message: unknown): void {
    const current = slot.current;
    if (current === null || !isBcryptResponse(message) || message.id !== current.id) return;
    slot.current = null;
    slot.worker.unref();
    if (message.ok) current.job.resolve(message.value);
    else current.job.reject(new PasswordHasherError(`bcrypt failed: ${message.message}`));
    this.#dispatch();
  }

  #onExit(slot: Slot): void {
    if (!this.#slots.delete(slot)) return; // closed: close() already settled its job
    const current = slot.current;
    slot.current = null;
    if (current !== null) {
      if (current.job.attempts < MAX_ATTEMPTS) {
        this.#queues[current.job.lane].unshift(current.job); // retried first: it has waited longest
      } else {
        const reason = slot.failure === null ? 'exited' : 'crashed';
        current.job.reject(new PasswordHasherError(`bcrypt worker ${reason} twice while hashing`));
      }
    }
    this.#dispatch(); // replaces the worker if anything is waiting
  }
}

export class PasswordHasher {
  readonly cost: number;
  readonly poolSize: number;
  readonly #pool: WorkerPool;
  readonly #dummyHash: string;

  constructor(options: PasswordHasherOptions = {}) {
    this.cost = options.cost ?? DEFAULT_BCRYPT_COST;
    assertCost(this.cost);
    this.poolSize = options.poolSize ?? defaultPoolSize();
    if (!Number.isInteger(this.poolSize) || this.poolSize < 1) {
      throw new RangeError('poolSize must be a positive integer');
    }
    const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (!Number.isInteger(maxQueued) || maxQueued < 0)
      throw new RangeError('maxQueued must be an integer ≥ 0');
    this.#pool = new WorkerPool(this.poolSize, options.workerFactory ?? createBcryptWorker, maxQueued);
    this.#dummyHash = makeDummyHash(this.cost);
  }

  /**
   * Hashes a new password (registration, password change): enforces the length policy.
   * @throws PasswordTooShortError, PasswordTooLongError (as rejections)
   */
  async hash(password: string): Promise<string> {
    assertNotTooLong(password);
    if (codePointLength(password) < MIN_PASSWORD_LENGTH) throw new PasswordTooShortError();
    const result = await this.#pool.run({ op: 'hash', password, cost: this.cost }, 'hash');
    if (typeof result !== 'string') throw new PasswordHasherError('bcrypt returned no hash');
    return result;
  }

  /**
   * Checks a password against a stored hash. The minimum length is not enforced here: it is a rule
   * for new passwords, and older accounts may predate it. Over-long passwords are rejected (never
   * truncated) — that depends only on the input, so it reveals nothing about the account.
   * @throws PasswordTooLongError; a plain Error when the stored hash is malformed (a data fault that
   *   should be noticed, not a wrong password).
   */
  async verify(password: string, hash: string): Promise<boolean> {
    assertNotTooLong(password);
    if (typeof hash !== 'string' || hashCost(hash) === null)
      throw new Error('Stored password hash is malformed');
    const result = await this.#pool.run({ op: 'compare', password, hash }, 'verify');
    return result === true;
  }

  /**
   * For logins with an unknown email: the same work as `verify` at this hasher's cost, always false,
   * so response time does not reveal whether the account exists. Same too-long rule as `verify`.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    assertNotTooLong(password);
    await this.#pool.run({ op: 'compare', password, hash: this.#dummyHash }, 'verify');
    return false;
  }

  /** True when the hash was made with a lower cost than this hasher's: rehash after a successful login. */
  needsRehash(hash: string): boolean {
    const cost = hashCost(hash);
    return cost === null || cost < this.cost;
  }

  /** Requests waiting in a lane (observability, tests). */
  queued(lane: HasherLane): number {
    return this.#pool.queued(lane);
  }

  /** Terminates the workers; pending and later calls reject with PasswordHasherError. */
  async close(): Promise<void> {
    await this.#pool.close();
  }
}
