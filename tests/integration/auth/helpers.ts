import { randomBytes, randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { login, register } from '../../../functions/auth.js';
import { invoke, type InvokeResult } from '../../support/http.js';

export type Handler = (req: HttpRequest, ctx: InvocationContext) => Promise<HttpResponseInit>;

/**
 * A client address of its own, so tests (and test files running in parallel on one Redis prefix)
 * never share a login rate-limit budget. The platform passes the peer address as x-client-ip.
 */
export function freshIp(): string {
  const [a, b, c] = randomBytes(3);
  return `10.${a}.${b}.${c}`;
}

export const STRONG_PASSWORD = 'correct horse battery staple';

export function uniqueEmail(label = 'user'): string {
  return `${label}-${randomUUID().slice(0, 8)}@example.test`;
}

export interface Registration {
  email: string;
  password: string;
  name?: string;
  phone?: string;
  address?: string;
}

export async function registerUser(
  tenantId: string,
  input: Partial<Registration> = {},
): Promise<InvokeResult & { input: Registration }> {
  const body: Registration = {
    email: uniqueEmail(),
    password: STRONG_PASSWORD,
    name: 'Test Person',
    ...input,
  };
  const res = await invoke(register, {
    method: 'POST',
    url: 'http://localhost/api/auth/register',
    // An address of its own: registrations are limited per address (issue 19).
    headers: { 'x-tenant-id': tenantId, 'x-client-ip': freshIp() },
    body,
  });
  return Object.assign(res, { input: body });
}

export async function loginUser(
  tenantId: string,
  email: string,
  password: string,
  ip: string = freshIp(),
): Promise<InvokeResult> {
  return invoke(login, {
    method: 'POST',
    url: 'http://localhost/api/auth/login',
    headers: { 'x-tenant-id': tenantId, 'x-client-ip': ip },
    body: { email, password },
  });
}

export function call(
  handler: Handler,
  method: string,
  route: string,
  options: { tenantId?: string; headers?: Record<string, string>; body?: unknown; ip?: string } = {},
): Promise<InvokeResult> {
  return invoke(handler, {
    method,
    url: `http://localhost/api/${route}`,
    headers: {
      ...(options.tenantId ? { 'x-tenant-id': options.tenantId } : {}),
      'x-client-ip': options.ip ?? freshIp(),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
}
