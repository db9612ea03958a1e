/**
 * Counts SQL statements the ORM sends, so tests can prove a bounded query count (no N+1).
 * MikroORM's query logger calls us once per statement.
 */
let count = 0;

export function countQuery(message: string): void {
  // MikroORM logs transaction control and queries alike; count only statements.
  if (message.length > 0) count++;
}

export function queryCount(): number {
  return count;
}

/** Runs `fn` and returns how many statements it sent (meaningful when nothing else runs concurrently). */
export async function countQueries<T>(fn: () => Promise<T>): Promise<{ result: T; queries: number }> {
  const before = count;
  const result = await fn();
  return { result, queries: count - before };
}
