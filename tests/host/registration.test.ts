import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { installFunctionsCore, registeredFunctions } from '../../infra/host/core-api.js';
import { functionModules } from '../../infra/openapi/load-functions.js';
import { validateHttpFunctions } from '../../infra/host/route-validation.js';

const root = path.resolve(__dirname, '..', '..');

/**
 * Every function file of the app, registered the way the host loads them (the stand-in
 * `@azure/functions-core` receives each registration): none may be refused by the Functions host —
 * on Azure a refused function simply is not there, and the rest of the app starts without it.
 */
describe('the app’s function registrations', () => {
  it('claim no route the Functions host reserves (admin…, runtime…) and no route twice', async () => {
    installFunctionsCore();
    for (const file of functionModules(path.join(root, 'functions'), '.ts')) await import(file);
    const http = registeredFunctions().filter((f) => f.trigger.type.toLowerCase() === 'httptrigger');
    expect(http.length).toBeGreaterThan(20);
    expect(Object.fromEntries(validateHttpFunctions(http).errors)).toEqual({});
  });
});
