import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { screen: 'orders' }
  | { screen: 'order'; id: string }
  | { screen: 'products' }
  | { screen: 'product'; id: string }
  | { screen: 'exports' };

/**
 * Hash routes (`#/orders/<id>`): the server serves one page whatever the screen, and a reload or a
 * shared link opens the same screen (after signing in again: tokens live in memory only).
 */
export function parseRoute(hash: string): Route {
  const [, screen, id] = hash.replace(/^#/, '').split('/');
  const safeId = id && /^[A-Za-z0-9-]{1,64}$/.test(id) ? id : undefined;
  if (screen === 'orders' && safeId) return { screen: 'order', id: safeId };
  if (screen === 'products' && safeId) return { screen: 'product', id: safeId };
  if (screen === 'products') return { screen: 'products' };
  if (screen === 'exports') return { screen: 'exports' };
  return { screen: 'orders' };
}

export function href(route: Route): string {
  switch (route.screen) {
    case 'order':
      return `#/orders/${route.id}`;
    case 'product':
      return `#/products/${route.id}`;
    default:
      return `#/${route.screen}`;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = (): void => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
