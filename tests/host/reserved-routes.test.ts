import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type LocalHost } from '../../infra/host/host.js';
import { isReservedRoute, RESERVED_ROUTE_MESSAGE } from '../../infra/host/route-validation.js';
import { testHostOptions } from './helpers.js';

let host: LocalHost;

beforeAll(async () => {
  host = await startHost(testHostOptions({ modules: [() => import('./fixtures/reserved-routes.js')] }));
});

afterAll(async () => {
  await host?.stop();
});

describe('routes the Functions host keeps for itself', () => {
  it("puts a function on an admin… or runtime… route in error with the host's message, and runs the others", () => {
    expect(Object.fromEntries(host.functionErrors)).toEqual({
      adminRoute: RESERVED_ROUTE_MESSAGE,
      runtimeRoute: RESERVED_ROUTE_MESSAGE,
      administration: RESERVED_ROUTE_MESSAGE,
      adminByName: RESERVED_ROUTE_MESSAGE,
      clashingRoute: "The route specified conflicts with the route defined by function 'servedFine'.",
    });
    expect(RESERVED_ROUTE_MESSAGE).toBe('The specified route conflicts with one or more built in routes.');
    expect(host.functions.map((f) => f.name).sort()).toEqual(['sameRouteOtherMethod', 'servedFine']);
  });

  it('serves the valid functions and nothing of the refused ones', async () => {
    expect(await (await fetch(`${host.baseUrl}/manage/things`)).text()).toBe('ok');
    expect((await fetch(`${host.baseUrl}/manage/things`, { method: 'POST' })).status).toBe(200);
    for (const path of ['admin/things', 'runtime/status', 'administration/report', 'adminByName'])
      expect((await fetch(`${host.baseUrl}/${path}`)).status, path).toBe(404);
    expect((await fetch(`${host.baseUrl}/manage/things`, { method: 'PUT' })).status).toBe(404);
  });

  it('compares a prefix of the trimmed, lower-cased route, whatever the route prefix', () => {
    for (const route of ['admin', '/Admin/x', 'ADMINISTRATION', 'runtime/webhooks/x', '//runtimes//'])
      expect(isReservedRoute(route), route).toBe(true);
    for (const route of ['manage/admin', 'api/admin', 'my-runtime', 'adm/in', ''])
      expect(isReservedRoute(route), route).toBe(false);
  });
});
