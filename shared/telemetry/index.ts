import { startAppInsights, type AppInsightsClient } from './app-insights.js';

/**
 * Custom events and metrics. Application Insights is loaded only when a connection string is set: the
 * SDK probes the cloud metadata address at start-up, which must never happen locally or in tests.
 * A sink can be attached (tests, the local host) to observe what would be sent.
 */
export interface TelemetrySink {
  event(name: string, properties?: Record<string, string>): void;
  metric(name: string, value: number, properties?: Record<string, string>): void;
}

let client: AppInsightsClient | undefined;
const sinks = new Set<TelemetrySink>();

/** Starts Application Insights once per process (worker) when a connection string is given; never otherwise. */
export function initTelemetry(connectionString: string | undefined): boolean {
  if (!connectionString || client) return Boolean(client);
  client = startAppInsights(connectionString);
  return true;
}

export function addTelemetrySink(sink: TelemetrySink): () => void {
  sinks.add(sink);
  return () => sinks.delete(sink);
}

export function trackEvent(name: string, properties?: Record<string, string>): void {
  client?.trackEvent({ name, properties });
  for (const sink of sinks) sink.event(name, properties);
}

export function trackMetric(name: string, value: number, properties?: Record<string, string>): void {
  client?.trackMetric({ name, value, properties });
  for (const sink of sinks) sink.metric(name, value, properties);
}
