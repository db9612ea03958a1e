import type { HostProcess } from '../../support/host-process.js';

/**
 * Deploying a changed checkout orchestrator to a running test host: the compiled
 * ./changed-orchestrator.ts, handed to spawnHost as `replaceWith` (its registration replaces the app's
 * orchestrator of the same name). Kept apart from that module, which registers a function when loaded.
 * tsconfig.build.json compiles it (the host loads it from dist/).
 */
export const CHANGED_ORCHESTRATOR = 'dist/tests/reliability/support/changed-orchestrator.js';

export interface InstanceView {
  runtimeStatus: string;
  output?: unknown;
}

/** An orchestration instance as the host's durable HTTP API shows it (undefined: unknown or unreachable). */
export async function instanceOf(host: HostProcess, id: string): Promise<InstanceView | undefined> {
  const res = await fetch(
    `${host.url}/runtime/webhooks/durabletask/instances/${id}?code=${encodeURIComponent(host.durableTaskKey)}`,
  ).catch(() => undefined);
  if (!res || (res.status !== 200 && res.status !== 202)) return undefined;
  return (await res.json()) as InstanceView;
}

/** True for an instance the Durable extension failed because its replay disagreed with its history. */
export function failedAsNonDeterministic(view: InstanceView | undefined): boolean {
  return view?.runtimeStatus === 'Failed' && /Non-?Deterministic/i.test(JSON.stringify(view.output ?? ''));
}
