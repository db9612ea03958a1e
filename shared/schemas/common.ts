import { z } from './zod.js';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export const Uuid = z.uuid().openapi({ example: '0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10' });

export const IdParams = z.object({ id: Uuid });

export const PageSize = z.coerce
  .number()
  .int()
  .min(1)
  .max(MAX_PAGE_SIZE, `pageSize must be at most ${MAX_PAGE_SIZE}`)
  .default(DEFAULT_PAGE_SIZE)
  .openapi({ description: `Items per page (default ${DEFAULT_PAGE_SIZE}, max ${MAX_PAGE_SIZE}).` });

export const Cursor = z
  .string()
  .max(512)
  .optional()
  .openapi({ description: 'Opaque cursor from a previous page’s `nextCursor`.' });

export const PageQuery = z.object({ pageSize: PageSize, cursor: Cursor });

export function pageOf<T extends z.ZodType>(
  item: T,
  name: string,
): z.ZodObject<{ items: z.ZodArray<T>; nextCursor: z.ZodNullable<z.ZodString> }> {
  return z
    .object({
      items: z.array(item),
      nextCursor: z.string().nullable().openapi({ description: 'null on the last page' }),
    })
    .openapi(name);
}

export const Money = z
  .number()
  .int()
  .min(0)
  .max(1_000_000_000_00)
  .openapi({ description: 'Integer minor units.' });
export const Currency = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')
  .openapi({ example: 'USD' });

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    correlationId: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .catchall(z.unknown())
  .openapi('Problem', { description: 'RFC 9457 problem details.' });
