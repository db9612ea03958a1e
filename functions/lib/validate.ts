import type { z } from 'zod';
import { ValidationException, type FieldError } from '../../shared/errors/index.js';

/** Validates one part of the request; every failing field is listed, prefixed by where it came from. */
export function validate<T extends z.ZodType>(schema: T, value: unknown, location: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map((issue) => ({
    field: [location, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  throw new ValidationException(errors);
}
