import type { ServerResponse } from 'node:http';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface HostProblem {
  status: number;
  title: string;
  detail?: string;
  instance?: string;
  /** Extra members (RFC 9457 extensions), e.g. `allowed` for 405. */
  extensions?: Record<string, unknown>;
  headers?: Record<string, string>;
}

/**
 * Answers the requests the host itself rejects (no route, wrong method, body too large, draining) in the
 * same RFC 9457 shape the functions use, so clients need one error parser.
 */
export function sendProblem(res: ServerResponse, problem: HostProblem): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    ...(problem.detail ? { detail: problem.detail } : {}),
    ...(problem.instance ? { instance: problem.instance } : {}),
    ...problem.extensions,
  });
  res.writeHead(problem.status, {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...problem.headers,
  });
  res.end(body);
}
