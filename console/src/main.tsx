import { render, type JSX } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { typedClient, type Problem } from './api';
import { href, useRoute } from './router';
import { Session } from './session';
import { ExportsScreen } from './screens/exports';
import { OrderScreen } from './screens/order-detail';
import { OrdersScreen } from './screens/orders';
import { ProductScreen } from './screens/product-detail';
import { ProductsScreen } from './screens/products';
import { SignIn } from './screens/sign-in';
import { LiveRegion, announce } from './ui';
import './styles.css';

const session = new Session();

function App(): JSX.Element {
  const [signedIn, setSignedIn] = useState(session.signedIn);
  const [reason, setReason] = useState<Problem | undefined>();
  useEffect(
    () =>
      session.onChange((now, why) => {
        setSignedIn(now);
        setReason(why);
        if (!now) announce(why ? 'Your session ended. Sign in again.' : 'Signed out.');
      }),
    [],
  );
  const api = useMemo(() => typedClient(session), []);
  const route = useRoute();

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="bar">
        <span class="brand">ecommerce-api · admin</span>
        {signedIn ? (
          <>
            <nav aria-label="Sections">
              <ul>
                {(['orders', 'products', 'exports'] as const).map((screen) => {
                  const current =
                    route.screen === screen ||
                    (screen === 'orders' && route.screen === 'order') ||
                    (screen === 'products' && route.screen === 'product');
                  return (
                    <li key={screen}>
                      <a href={href({ screen })} aria-current={current ? 'page' : undefined}>
                        {screen[0]!.toUpperCase() + screen.slice(1)}
                      </a>
                    </li>
                  );
                })}
              </ul>
            </nav>
            <span class="who">{session.email}</span>
            <button type="button" class="secondary" onClick={() => void session.signOut()}>
              Sign out
            </button>
          </>
        ) : null}
      </header>
      <LiveRegion />
      {!signedIn ? (
        <SignIn session={session} reason={reason} />
      ) : (
        <main id="main">
          {route.screen === 'orders' ? <OrdersScreen api={api} /> : null}
          {route.screen === 'order' ? <OrderScreen key={route.id} api={api} id={route.id} /> : null}
          {route.screen === 'products' ? <ProductsScreen api={api} /> : null}
          {route.screen === 'product' ? <ProductScreen key={route.id} api={api} id={route.id} /> : null}
          {route.screen === 'exports' ? <ExportsScreen api={api} /> : null}
        </main>
      )}
    </>
  );
}

render(<App />, document.getElementById('app')!);
