import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

type Field = string | number | null;

/** One row in `COPY … FROM STDIN` text format: tab-separated, `\N` for null, backslash escapes. */
export function copyLine(values: readonly Field[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) line += '\t';
    if (v === null || v === undefined) line += '\\N';
    else if (typeof v === 'number') line += String(v);
    else line += /[\\\t\n\r]/.test(v) ? v.replace(/[\\\t\n\r]/g, escapeChar) : v;
  }
  return line + '\n';
}

function escapeChar(c: string): string {
  switch (c) {
    case '\\':
      return '\\\\';
    case '\t':
      return '\\t';
    case '\n':
      return '\\n';
    default:
      return '\\r';
  }
}

/** Streams rows (already encoded lines) into `sql` (a `COPY … FROM STDIN`) on one connection. */
export async function copyInto(client: pg.ClientBase, sql: string, lines: Iterable<string>): Promise<void> {
  // Joined into chunks: one stream write per line would cost more than building the text.
  function* chunks(): Generator<string> {
    let chunk = '';
    for (const line of lines) {
      chunk += line;
      if (chunk.length >= 256 * 1024) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk.length > 0) yield chunk;
  }
  await pipeline(Readable.from(chunks(), { objectMode: false }), client.query(copyFrom(sql)));
}
