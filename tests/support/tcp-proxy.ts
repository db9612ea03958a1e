import net from 'node:net';

/**
 * A loopback TCP proxy in front of a real service (Redis, PostgreSQL) that a test can cut and restore,
 * so an outage is simulated for ONE application process without touching the machine's shared
 * servers. Point the app at `proxy.port` instead of the service's own port.
 *
 * - `open`: bytes are forwarded both ways.
 * - `cut`: every live connection is destroyed (the client sees a reset), and new ones are accepted and
 *   destroyed at once — like a server that went away while its port still answers the SYN.
 * - `blackhole`: new connections are accepted and never answered (a hung server / a partition);
 *   live ones are frozen too (nothing forwarded in either direction).
 */
export type ProxyMode = 'open' | 'cut' | 'blackhole';

export interface TcpProxy {
  readonly port: number;
  mode(): ProxyMode;
  /** Destroys every connection and refuses new ones until `restore()`. */
  cut(): void;
  /** Accepts connections but forwards nothing (requests hang) until `restore()`. */
  blackhole(): void;
  restore(): void;
  /** Connections accepted so far (all modes) and currently open. */
  stats(): { accepted: number; open: number; cuts: number };
  /** `url` with its host and port replaced by the proxy's (e.g. a postgres:// or redis:// URL). */
  rewrite(url: string): string;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  targetHost: string;
  targetPort: number;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  let current: ProxyMode = 'open';
  let accepted = 0;
  let cuts = 0;
  const pairs = new Set<Pair>();
  const held = new Set<net.Socket>();

  const destroyAll = (): void => {
    for (const pair of pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    pairs.clear();
    for (const socket of held) socket.destroy();
    held.clear();
  };

  const server = net.createServer((client) => {
    accepted++;
    client.on('error', () => undefined);
    if (current === 'cut') {
      // resetAndDestroy sends an RST where supported: the client fails at once instead of waiting.
      client.resetAndDestroy();
      return;
    }
    if (current === 'blackhole') {
      held.add(client);
      client.once('close', () => held.delete(client));
      client.pause();
      return;
    }
    const upstream = net.connect({ host: options.targetHost, port: options.targetPort });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', drop);
    upstream.once('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    mode: () => current,
    cut: () => {
      current = 'cut';
      cuts++;
      destroyAll();
    },
    blackhole: () => {
      current = 'blackhole';
      for (const pair of pairs) {
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.client.pause();
        pair.upstream.pause();
      }
    },
    restore: () => {
      // Frozen connections of a blackhole are not resumed: a real partition loses them too.
      if (current === 'blackhole') destroyAll();
      current = 'open';
    },
    stats: () => ({ accepted, open: pairs.size + held.size, cuts }),
    rewrite: (url: string) => {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    close: () =>
      new Promise<void>((resolve) => {
        destroyAll();
        server.close(() => resolve());
      }),
  };
}
