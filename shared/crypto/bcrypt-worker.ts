/**
 * The bcrypt worker thread: runs bcryptjs's synchronous API off the main thread.
 *
 * Why the worker's code is a string evaluated with `new Worker(code, { eval: true })` instead of a
 * worker file: the same module must work compiled (`dist/shared/crypto/*.js`) and as TypeScript source
 * under vitest, and a Worker cannot load a `.ts` file. A file path would also have to be computed from
 * `__dirname`, which differs between the two layouts. The string is plain CommonJS that only requires
 * `node:worker_threads` and bcryptjs — by the absolute path the parent resolved, because an eval'd
 * worker resolves bare specifiers from the process's working directory, not from this file.
 *
 * Why the synchronous bcryptjs API: inside a worker blocking is the point; bcryptjs's async API would
 * only slice the same work into ~100 ms chunks and add scheduling overhead.
 *
 * Keep the source tiny and free of anything that needs a build step: it is not type-checked.
 */
import { Worker } from 'node:worker_threads';

export type BcryptJob =
  | { readonly op: 'hash'; readonly password: string; readonly cost: number }
  | { readonly op: 'compare'; readonly password: string; readonly hash: string };

export type BcryptRequest = BcryptJob & { readonly id: number };

export type BcryptResponse =
  | { readonly id: number; readonly ok: true; readonly value: string | boolean }
  | { readonly id: number; readonly ok: false; readonly message: string };

export const BCRYPT_WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
parentPort.on('message', (request) => {
  let response;
  try {
    if (request.op === 'hash') {
      response = { id: request.id, ok: true, value: bcrypt.hashSync(request.password, bcrypt.genSaltSync(request.cost)) };
    } else if (request.op === 'compare') {
      response = { id: request.id, ok: true, value: bcrypt.compareSync(request.password, request.hash) };
    } else {
      response = { id: request.id, ok: false, message: 'unknown bcrypt operation' };
    }
  } catch (error) {
    // Only the message crosses back: never echo the request, it holds the password.
    response = { id: request.id, ok: false, message: error instanceof Error ? error.message : 'bcrypt failed' };
  }
  parentPort.postMessage(response);
});
`;

/** Resolved once: where bcryptjs's CommonJS build lives for this installation. */
let bcryptPath: string | undefined;

function resolveBcryptjs(): string {
  bcryptPath ??= require.resolve('bcryptjs');
  return bcryptPath;
}

/** Starts one bcrypt worker. The caller owns it: listen for 'error'/'exit' and terminate it when done. */
export function createBcryptWorker(): Worker {
  return new Worker(BCRYPT_WORKER_SOURCE, {
    eval: true,
    name: 'bcrypt',
    workerData: { bcryptPath: resolveBcryptjs() },
    // An empty environment: the worker needs none, so secrets in process.env are not copied into it.
    env: {},
  });
}

/** Narrows a message from the worker; anything else is a protocol bug, not a result. */
export function isBcryptResponse(message: unknown): message is BcryptResponse {
  if (typeof message !== 'object' || message === null) return false;
  const candidate = message as Record<string, unknown>;
  if (typeof candidate.id !== 'number') return false;
  if (candidate.ok === true)
    return typeof candidate.value === 'string' || typeof candidate.value === 'boolean';
  return candidate.ok === false && typeof candidate.message === 'string';
}
