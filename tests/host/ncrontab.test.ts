import { describe, expect, it } from 'vitest';
import { parseSchedule } from '../../infra/host/ncrontab.js';

const at = (iso: string): Date => new Date(iso);

describe('NCRONTAB schedules', () => {
  it.each([
    ['*/5 * * * * *', '2024-03-10T10:00:03Z', '2024-03-10T10:00:05.000Z'],
    ['0 */5 * * * *', '2024-03-10T10:00:03Z', '2024-03-10T10:05:00.000Z'],
    ['0 0 * * * *', '2024-03-10T10:59:59Z', '2024-03-10T11:00:00.000Z'],
    ['0 30 9 * * 1-5', '2024-03-09T12:00:00Z', '2024-03-11T09:30:00.000Z'], // Saturday → Monday
    ['0 30 9 * * MON-FRI', '2024-03-09T12:00:00Z', '2024-03-11T09:30:00.000Z'],
    ['0 0 0 1 JAN *', '2024-03-10T00:00:00Z', '2025-01-01T00:00:00.000Z'],
    ['0 0 12 29 2 *', '2024-03-01T00:00:00Z', '2028-02-29T12:00:00.000Z'],
    ['0 0 0 13 * 5', '2024-01-01T00:00:00Z', '2024-09-13T00:00:00.000Z'], // day AND weekday: Friday the 13th
    ['10,20 0 0 * * *', '2024-03-10T00:00:10Z', '2024-03-10T00:00:20.000Z'],
    ['5/20 * * * * *', '2024-03-10T00:00:26Z', '2024-03-10T00:00:45.000Z'],
    ['0 0 0 * * 7', '2024-03-10T00:00:00Z', '2024-03-17T00:00:00.000Z'], // 7 = Sunday too
    ['00:00:30', '2024-03-10T00:00:00Z', '2024-03-10T00:00:30.000Z'], // TimeSpan interval
  ])('%s after %s → %s', (expression, after, next) => {
    expect(parseSchedule(expression).next(at(after)).toISOString()).toBe(next);
  });

  it('resolves %Setting% from the environment', () => {
    expect(parseSchedule('%CRON%', { CRON: '0 0 * * * *' }).expression).toBe('0 0 * * * *');
  });

  it.each(['* * * * *', '60 * * * * *', '* * * * 13 *', 'a b c d e f', '*/0 * * * * *'])(
    'rejects %s',
    (expression) => {
      expect(() => parseSchedule(expression)).toThrow();
    },
  );
});
