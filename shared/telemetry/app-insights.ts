import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Starts Application Insights (applicationinsights 3.x, the shim over @azure/monitor-opentelemetry) so
 * that it talks to the connection string's ingestion endpoint and nowhere else.
 *
 * Why each switch (checked in tests/e2e/telemetry.test.ts, which records every connection the host makes):
 * - Statsbeat is the SDK's own usage telemetry, sent to Microsoft's endpoints
 *   (westus-0/westeurope-5.in.applicationinsights.azure.com), not to ours: off
 *   (APPLICATIONINSIGHTS_STATSBEAT_DISABLED only stops the "non-essential" part; the exporter still sends
 *   the rest unless APPLICATION_INSIGHTS_NO_STATSBEAT is set: @azure/monitor-opentelemetry-exporter
 *   export/base.js and statsbeat/networkStatsbeatMetrics.js; Azure/azure-sdk-for-js#31000 for what it
 *   costs behind a firewall).
 * - The Azure VM resource detector calls IMDS (169.254.169.254) on every start, whatever the platform,
 *   and 1.18.x has no option to turn it off (Azure/azure-sdk-for-js#39510; fixed later by #39540, which
 *   skips it when another detector found the platform). We are never on a VM, so its `detect` is replaced
 *   by one that finds nothing before the SDK is loaded. OTEL_NODE_RESOURCE_DETECTORS limits the SDK's
 *   own detection to environment-only detectors.
 * - Live metrics (QuickPulse) poll the live endpoint every second; the Functions host already serves live
 *   metrics for the app, so the worker does not: off.
 * - Performance counters and pre-aggregated standard metrics: the host reports requests and the platform
 *   reports CPU/memory; the worker sending them too would double-count.
 * Custom metrics (trackMetric) are OpenTelemetry histograms exported every OTEL_METRIC_EXPORT_INTERVAL ms
 * (60 s by default): `customMetrics` rows carry valueSum/valueCount/valueMax, not single values.
 */
export interface AppInsightsClient {
  trackEvent(t: { name: string; properties?: Record<string, string> }): void;
  trackMetric(t: { name: string; value: number; properties?: Record<string, string> }): void;
  flush(): Promise<void> | void;
}

interface ShimConfiguration {
  setAutoCollectConsole(value: boolean, collectConsoleLog?: boolean): ShimConfiguration;
  setSendLiveMetrics(value: boolean): ShimConfiguration;
  setAutoCollectPerformance(value: boolean, collectExtendedMetrics?: boolean): ShimConfiguration;
  setAutoCollectPreAggregatedMetrics(value: boolean): ShimConfiguration;
  setInternalLogging(debug: boolean, warnings: boolean): ShimConfiguration;
  start(): ShimConfiguration;
}

interface Shim {
  setup(connectionString: string): ShimConfiguration;
  defaultClient: AppInsightsClient;
}

interface Detector {
  detect(): { attributes: Record<string, unknown> };
}

/** Environment the SDK reads at start; set before it loads. */
export const QUIET_SDK_ENV: Readonly<Record<string, string>> = {
  APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
  APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
  APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
  OTEL_NODE_RESOURCE_DETECTORS: 'env,azure_functions',
};

/** The VM detector as @azure/monitor-opentelemetry resolves it (a transitive dependency). */
function silenceVmDetector(): void {
  const distro = createRequire(__filename).resolve('@azure/monitor-opentelemetry');
  const fromDistro = createRequire(path.join(path.dirname(distro), 'noop.js'));
  const detectors = fromDistro('@opentelemetry/resource-detector-azure') as { azureVmDetector: Detector };
  detectors.azureVmDetector.detect = () => ({ attributes: {} });
}

export function startAppInsights(connectionString: string): AppInsightsClient {
  Object.assign(process.env, QUIET_SDK_ENV);
  silenceVmDetector();
  // Loaded only here: requiring it is what starts the instrumentation machinery.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const appInsights = require('applicationinsights') as Shim;
  appInsights
    .setup(connectionString)
    .setAutoCollectConsole(false)
    .setSendLiveMetrics(false)
    .setAutoCollectPerformance(false, false)
    .setAutoCollectPreAggregatedMetrics(false)
    .setInternalLogging(false, false)
    .start();
  return appInsights.defaultClient;
}
