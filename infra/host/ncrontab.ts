/**
 * Timer-trigger schedules: six-field NCRONTAB (`{second} {minute} {hour} {day} {month} {day-of-week}`)
 * or a TimeSpan (`hh:mm:ss`, an interval). Like NCrontab, a day must match BOTH the day-of-month and the
 * day-of-week fields (classic cron ORs them). Times are UTC, Azure's default (WEBSITE_TIME_ZONE unset).
 */

export interface Schedule {
  readonly expression: string;
  /** The first occurrence strictly after `after`. */
  next(after: Date): Date;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

function value(token: string, spec: FieldSpec): number {
  const upper = token.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + spec.min;
  if (!/^\d+$/.test(token)) throw new Error(`"${token}" is not a valid ${spec.name}`);
  const n = Number(token);
  if (n < spec.min || n > spec.max) throw new Error(`${spec.name} ${n} is outside ${spec.min}-${spec.max}`);
  return n;
}

function parseField(text: string, spec: FieldSpec): Set<number> {
  const set = new Set<number>();
  for (const item of text.split(',')) {
    const [range, stepText] = item.split('/');
    if (!range || item.split('/').length > 2) throw new Error(`Invalid ${spec.name} field "${text}"`);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`Invalid step in ${spec.name} field "${text}"`);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = spec.min;
      hi = spec.name === 'day-of-week' ? 6 : spec.max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      lo = value(a!, spec);
      hi = value(b!, spec);
      if (lo > hi) throw new Error(`Invalid range "${range}" in ${spec.name} field`);
    } else {
      lo = value(range, spec);
      // `5/15` means "from 5, every 15" in NCrontab.
      hi = stepText === undefined ? lo : spec.name === 'day-of-week' ? 6 : spec.max;
    }
    for (let v = lo; v <= hi; v += step) set.add(spec.name === 'day-of-week' && v === 7 ? 0 : v);
  }
  return set;
}

function expand(expression: string, env: NodeJS.ProcessEnv): string {
  // Binding expressions: `%Setting%` reads an app setting, as the Functions host resolves it.
  return expression.trim().replace(/^%([^%]+)%$/, (_, name: string) => {
    const resolved = env[name];
    if (!resolved) throw new Error(`Schedule refers to app setting ${name}, which is not set`);
    return resolved.trim();
  });
}

function timeSpan(expression: string): number | undefined {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(expression);
  if (!m) return undefined;
  const [, days, h, min, s] = m;
  const ms = (((Number(days ?? 0) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(s ?? 0)) * 1000;
  if (ms <= 0) throw new Error(`Timer interval "${expression}" must be positive`);
  return ms;
}

export function parseSchedule(input: string, env: NodeJS.ProcessEnv = process.env): Schedule {
  const expression = expand(input, env);
  const interval = timeSpan(expression);
  if (interval !== undefined) {
    return { expression, next: (after) => new Date(after.getTime() + interval) };
  }
  const parts = expression.split(/\s+/);
  if (parts.length !== 6)
    throw new Error(
      `"${expression}" is not a six-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week})`,
    );
  const [seconds, minutes, hours, days, months, weekdays] = parts.map((p, i) =>
    parseField(p, FIELDS[i]!),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const first = (set: Set<number>, from: number): number | undefined =>
    [...set].sort((a, b) => a - b).find((v) => v >= from);

  return {
    expression,
    next(after: Date): Date {
      // Walk field by field from the coarsest, jumping to the next candidate instead of ticking seconds.
      const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
      const limit = after.getTime() + 5 * 366 * 24 * 3600 * 1000;
      while (t.getTime() <= limit) {
        if (!months.has(t.getUTCMonth() + 1)) {
          t.setUTCMonth(t.getUTCMonth() + 1, 1);
          t.setUTCHours(0, 0, 0, 0);
          continue;
        }
        if (!days.has(t.getUTCDate()) || !weekdays.has(t.getUTCDay())) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0, 0);
          continue;
        }
        const hour = first(hours, t.getUTCHours());
        if (hour === undefined) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0, 0);
          continue;
        }
        if (hour !== t.getUTCHours()) {
          t.setUTCHours(hour, 0, 0, 0);
          continue;
        }
        const minute = first(minutes, t.getUTCMinutes());
        if (minute === undefined) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
          continue;
        }
        if (minute !== t.getUTCMinutes()) {
          t.setUTCMinutes(minute, 0, 0);
          continue;
        }
        const second = first(seconds, t.getUTCSeconds());
        if (second === undefined) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
          continue;
        }
        t.setUTCSeconds(second, 0);
        return t;
      }
      throw new Error(`Schedule "${expression}" has no occurrence in the next five years`);
    },
  };
}
