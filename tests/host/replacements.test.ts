import { describe, expect, it } from 'vitest';
import { functionsCore, loadReplacements, registeredFunctions } from '../../infra/host/core-api.js';

/**
 * The test-only "deploy" hook (HostOptions.replacements, `--replace-with`): a registration under a taken
 * name replaces the earlier one only while replacements load; otherwise it is refused, as the worker
 * refuses a second function of the same name.
 */
describe('function registrations replaced by a simulated deploy', () => {
  const metadata = (name: string) => ({
    name,
    bindings: { trigger: { type: 'activityTrigger', direction: 'in' as const } },
  });
  const handlerOf = (name: string) => registeredFunctions().find((f) => f.name === name)?.handler;

  it('refuses a second registration of a name, and takes it while replacements load', async () => {
    const name = `replaceMe${Date.now()}`;
    const v1 = (): string => 'v1';
    const v2 = (): string => 'v2';
    const registration = functionsCore.registerFunction(metadata(name), v1);
    try {
      expect(() => functionsCore.registerFunction(metadata(name), v2)).toThrow(/already been registered/);
      expect(handlerOf(name)).toBe(v1);
      await loadReplacements(() => {
        functionsCore.registerFunction(metadata(name), v2);
        return Promise.resolve();
      });
      expect(handlerOf(name)).toBe(v2);
      // Only while replacements load.
      expect(() => functionsCore.registerFunction(metadata(name), v1)).toThrow(/already been registered/);
    } finally {
      registration.dispose();
    }
  });
});
