import type { HttpRequest } from '@azure/functions';
import {
  BadRequestException,
  PayloadTooLargeException,
  UnsupportedMediaTypeException,
} from '../../shared/errors/index.js';

export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads the body as bytes, refusing more than `limit` without buffering the excess. */
export async function readRawBody(request: HttpRequest, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  if (!request.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function tooLarge(limit: number): PayloadTooLargeException {
  return new PayloadTooLargeException(`The request body exceeds ${limit} bytes.`);
}

const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i;

/** Parses a JSON body: wrong content type → 415, invalid UTF-8 or JSON → 400, too large → 413. */
export async function readJsonBody(request: HttpRequest, limit = MAX_BODY_BYTES): Promise<unknown> {
  const raw = await readRawBody(request, limit);
  const contentType = request.headers.get('content-type');
  if (raw.length === 0 && !contentType) return undefined;
  if (!contentType || !JSON_TYPE.test(contentType)) {
    throw new UnsupportedMediaTypeException('Send the body as application/json.');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new BadRequestException('The request body is not valid UTF-8.');
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text, rejectLoneSurrogates) as unknown;
  } catch (error) {
    if (error instanceof BadRequestException) throw error;
    throw new BadRequestException('The request body is not valid JSON.');
  }
}

// With the `u` flag a surrogate pair is one code point, so only an unpaired half matches.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * JSON's `\ud800` escapes can spell strings that are not Unicode. Stored, they would silently become
 * U+FFFD (the UTF-8 encoder replaces them), so the stored value would differ from the accepted one:
 * refuse them like invalid UTF-8 bytes.
 */
function rejectLoneSurrogates(key: string, value: unknown): unknown {
  if (LONE_SURROGATE.test(key) || (typeof value === 'string' && LONE_SURROGATE.test(value)))
    throw new BadRequestException('The request body contains text that is not valid Unicode.');
  return value;
}
