// Injected failures for the next N requests matching method + path: 5xx answers, hung connections, extra
// latency — before the operation runs, or after it ran (the client sees a failure although the payment
// moved). Each matching request consumes one count of the first matching fault, so faults queue up in
// the order they were injected.
import { newId } from './ids.js';
import type { ActiveFault, FaultSpec, FaultWhen } from './types.js';

const FAULT_WHENS: readonly FaultWhen[] = ['before', 'after', 'saved-before', 'saved-after'];

/** `*` = one path segment, `**` = anything (including slashes); everything else literal. */
function patternToRegExp(pattern: string): RegExp {
  const source = pattern
    .split(/(\*\*|\*)/)
    .map((part) =>
      part === '**' ? '.*' : part === '*' ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`);
}

interface Entry {
  fault: ActiveFault;
  regexp: RegExp;
}

export class FaultInjector {
  private entries: Entry[] = [];

  /** Validates and stores a fault; returns it with its id. */
  add(spec: FaultSpec): ActiveFault {
    if (typeof spec.path !== 'string' || !spec.path.startsWith('/')) {
      throw new TypeError('fault.path must be a path starting with /');
    }
    const kind = spec.kind ?? 'error';
    if (!['error', 'timeout', 'delay'].includes(kind))
      throw new TypeError("fault.kind must be 'error', 'timeout' or 'delay'");
    const times = spec.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new TypeError('fault.times must be a positive integer');
    const status = spec.status ?? 500;
    if (!Number.isInteger(status) || status < 400 || status > 599)
      throw new TypeError('fault.status must be 4xx or 5xx');
    // A hang defaults to longer than any sane client timeout in tests, shorter than the test runner's.
    const ms = spec.ms ?? (kind === 'timeout' ? 10_000 : kind === 'delay' ? 100 : 0);
    if (!Number.isFinite(ms) || ms < 0) throw new TypeError('fault.ms must be ≥ 0');
    // An error strikes once the endpoint began executing unless told otherwise: that is where Stripe's own
    // 5xx come from, and Stripe saves them under the key (docs.stripe.com/idempotency). 'before' (a
    // failure in front of the API, nothing saved) must be asked for. Hangs and delays are on the wire.
    const when = spec.when ?? (kind === 'error' ? 'saved-before' : 'before');
    if (!FAULT_WHENS.includes(when))
      throw new TypeError(`fault.when must be one of ${FAULT_WHENS.map((w) => `'${w}'`).join(', ')}`);
    // A saved answer is a status and a body: a hang cannot be saved. A delay inside the idempotency layer
    // ('saved-before') is a slow endpoint that holds its key meanwhile (concurrent uses get 409).
    if (when.startsWith('saved-') && kind === 'timeout')
      throw new TypeError("fault.when 'saved-…' needs kind 'error' or 'delay'");
    if (when === 'saved-after' && kind === 'delay')
      throw new TypeError("a delay inside the idempotency layer is 'saved-before'");
    const fault: ActiveFault = {
      id: newId('flt'),
      method: spec.method ? spec.method.toUpperCase() : null,
      path: spec.path,
      kind,
      times,
      status,
      ms,
      when,
      remaining: times,
    };
    this.entries.push({ fault, regexp: patternToRegExp(spec.path) });
    return { ...fault };
  }

  /**
   * Consumes one use of the first fault matching this request, if any — and, with `only`, only when
   * that first fault passes it (otherwise nothing is consumed).
   */
  take(method: string, path: string, only?: (fault: ActiveFault) => boolean): ActiveFault | null {
    const idx = this.entries.findIndex(
      (e) => (e.fault.method === null || e.fault.method === method) && e.regexp.test(path),
    );
    if (idx < 0) return null;
    const entry = this.entries[idx]!;
    if (only && !only(entry.fault)) return null;
    entry.fault.remaining--;
    if (entry.fault.remaining <= 0) this.entries.splice(idx, 1);
    return { ...entry.fault };
  }

  list(): ActiveFault[] {
    return this.entries.map((e) => ({ ...e.fault }));
  }

  clear(): void {
    this.entries = [];
  }
}
