import pg from 'pg';
import { resetSettingsForTests } from '../../shared/config/index.js';
import { getMessageSender } from '../../shared/messaging/index.js';
import { setLocalMessageBus } from '../../shared/messaging/local-bus.js';
import { ADMIN_PREFIX, createAdminApi } from './admin-api.js';
import { appSettingLookup, resolveFunction, UnresolvedSettingError } from './binding-expressions.js';
import { installFunctionsCore, loadReplacements, registeredFunctions, runAppHooks } from './core-api.js';
import { createDurableApi, durableClientInput, WEBHOOK_PREFIX } from './durable/client-api.js';
import { DurableEngine } from './durable/engine.js';
import { DurableStore } from './durable/store.js';
import { DurableRpcListener } from './durable/rpc-listener.js';
import { runMigrations, runSeed, type SampleData } from './embedded/bootstrap.js';
import { applyEmbeddedDefaults, type EmbeddedServices } from './embedded/defaults.js';
import { applyLocalSettings } from './embedded/local-settings.js';
import { describeFunction, formatFunctionTable, type FunctionDescription } from './function-table.js';
import { readHostJson } from './host-config.js';
import { DEFAULT_BODY_LIMIT, HttpHost } from './http-server.js';
import { isDurableClientBinding, type InputProvider } from './invocation.js';
import { findAppRoot, loadFunctionModules, mainEntries, type ModuleSource } from './loader.js';
import { safeErrorReport } from './durable/errors.js';
import { consoleLogger } from './log.js';
import { createOutputDispatcher } from './outputs.js';
import { entityName, usesRealServiceBus } from './service-bus/connection.js';
import { LocalServiceBus } from './service-bus/local-bus.js';
import { LocalMessageSender } from './service-bus/sender.js';
import { serviceBusListener } from './service-bus/trigger.js';
import { TimerScheduler } from './timers.js';
import { validateHttpFunctions } from './route-validation.js';
import { generateHostKeys, type HostKeys } from './keys.js';
import type { HostLogger, RegisteredFunction } from './types.js';

export interface HostOptions {
  /** App root (where package.json and host.json are); default: found upwards from the working directory. */
  root?: string;
  /** Default: $PORT, else 7071. 0 picks a free port (see `LocalHost.port`). */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  hostname?: string;
  /** What to load; default: package.json "main" (the compiled functions). */
  modules?: ModuleSource[];
  /**
   * Test-only: modules loaded after `modules` whose registrations replace the app's functions of the same
   * name — a "deploy" of changed code (e.g. a changed orchestrator) onto the same task hub, whose
   * in-flight instances then replay against the new code. Default none.
   */
  replacements?: ModuleSource[];
  /** Restrict which registered functions this host serves (registrations are process-wide). */
  functions?: (fn: RegisteredFunction) => boolean;
  /** Variables applied to process.env first (they win over local.settings.json and defaults). */
  env?: Record<string, string | undefined>;
  /** Read local.settings.json "Values" like `func start` (default true). */
  localSettings?: boolean;
  /** Start embedded PostgreSQL/Azurite/fake Stripe and generate secrets for absent settings (default false). */
  embedded?: boolean;
  /** Run shared/db/migrate `migrateAll()` before loading functions (default: same as `embedded`). */
  migrate?: boolean;
  /** Run infra/seed/sample-data `seedSampleData()` (default: same as `embedded`). */
  seed?: boolean;
  logger?: HostLogger;
  /** The host keys (default: generated at start; see keys.ts). */
  keys?: HostKeys;
  /**
   * Request body limit in bytes → 413 (default: $FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, else 100 MiB, the
   * Functions host's default).
   */
  bodyLimit?: number;
  /** How long stop() lets in-flight requests finish (default 25 s). */
  drainTimeoutMs?: number;
  /** Print the function table at start (default true). */
  printFunctions?: boolean;
  serviceBus?: {
    maxDeliveryCount?: number;
    maxConcurrentCalls?: number;
    redeliveryDelayMs?: number;
    duplicateDetectionWindowMs?: number;
  };
  durable?: {
    hubName?: string;
    /** PostgreSQL schema for instance state (default durable_host). */
    schema?: string;
    /** Default: DATABASE_URL. */
    databaseUrl?: string;
    pollIntervalMs?: number;
    /**
     * Activity lease (default: $DURABLE_ACTIVITY_LEASE_SECONDS, else 60 s): how long before another
     * host (or the next start) re-runs an execution whose host died.
     */
    leaseMs?: number;
    /** Connections of the durable store's pool (default 10). */
    poolSize?: number;
  };
}

export interface LocalHost {
  /** Origin, e.g. http://127.0.0.1:7071. */
  url: string;
  /** Origin plus the route prefix, e.g. http://127.0.0.1:7071/api. */
  baseUrl: string;
  port: number;
  /** The master key (opens /admin/…) and the durable extension's system key (opens the webhooks). */
  keys: HostKeys;
  functions: RegisteredFunction[];
  /** Functions the host refused to load (name → the host's error message), as the real host lists them. */
  functionErrors: ReadonlyMap<string, string>;
  describe(): FunctionDescription[];
  /** The in-process Service Bus: `deadLetters()`, `peek()`, `idle()`, `send()`. */
  queues: LocalServiceBus;
  /** The durable engine (undefined when no durable function is registered). */
  durable: DurableEngine | undefined;
  timers: TimerScheduler;
  sampleData: SampleData | undefined;
  embedded: EmbeddedServices | undefined;
  /** Graceful: drain HTTP, stop timers, queues and durable workers, run appTerminate, stop child processes. */
  stop(): Promise<void>;
}

const triggerType = (fn: RegisteredFunction): string => fn.trigger.type.toLowerCase();

/** The activity lease: the option, else the environment setting (whole seconds, at least 5). */
function leaseOption(
  option: number | undefined,
  setting: string | undefined,
  logger: HostLogger,
): { leaseMs?: number } {
  if (option !== undefined) return { leaseMs: option };
  if (setting === undefined || setting === '') return {};
  const seconds = Number(setting);
  if (Number.isInteger(seconds) && seconds >= 5) return { leaseMs: seconds * 1000 };
  logger.warn(`DURABLE_ACTIVITY_LEASE_SECONDS must be a whole number ≥ 5; using the default 60 s`);
  return {};
}

/**
 * The request body limit: FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (bytes), else the host's 100 MiB
 * (azure-functions-host `HttpRequestBodySizeMiddleware.cs`, `ScriptConstants.DefaultMaxRequestBodySize`).
 */
export function requestBodyLimit(env: NodeJS.ProcessEnv, logger?: HostLogger): number {
  const setting = env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT;
  if (setting === undefined || setting === '') return DEFAULT_BODY_LIMIT;
  const bytes = Number(setting);
  if (Number.isSafeInteger(bytes) && bytes > 0) return bytes;
  logger?.warn(
    `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT is not a positive whole number; using ${DEFAULT_BODY_LIMIT}`,
  );
  return DEFAULT_BODY_LIMIT;
}

/**
 * Boots the local Functions host: settings, embedded services, the functions' own modules, then HTTP,
 * queues, timers and durable workers. Resolves once it serves requests.
 */
export async function startHost(options: HostOptions = {}): Promise<LocalHost> {
  // Before anything can load @azure/functions and call app.*: a failed lookup would be cached for good.
  installFunctionsCore();
  const logger = options.logger ?? consoleLogger({ debug: process.env.HOST_DEBUG === '1' });
  const root = options.root ?? findAppRoot(process.cwd());
  const hostJson = readHostJson(root);
  const env = process.env;
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  if (options.localSettings !== false) {
    const { file, applied, skipped } = applyLocalSettings(root, env);
    if (file) logger.info(`Loaded ${applied.length} setting(s) from local.settings.json`);
    if (skipped.length > 0) logger.warn(`local.settings.json placeholders ignored: ${skipped.join(', ')}`);
  }

  // What has been started so far; shutdown() stops it in dependency order and skips what is absent,
  // so the same code cleans up after a failed start.
  const started: {
    http?: HttpHost;
    ownsHostname?: boolean;
    embedded?: EmbeddedServices;
    bus?: LocalServiceBus;
    ownsLocalBus?: boolean;
    unsubscribe: (() => void)[];
    pool?: pg.Pool;
    durable?: DurableEngine;
    rpc?: DurableRpcListener;
    timers?: TimerScheduler;
    appStarted?: boolean;
  } = { unsubscribe: [] };
  const step = async (what: string, work: (() => Promise<unknown>) | undefined): Promise<void> => {
    if (!work) return;
    try {
      await work();
    } catch (error) {
      logger.error(`Stopping ${what} failed: ${safeErrorReport(error)}`);
    }
  };
  const shutdown = async (): Promise<void> => {
    // Producers first (timers, queue deliveries), then the durable workers they may call, then the
    // app's own appTerminate hooks, then the infrastructure under all of them.
    await step('timers', started.timers && (() => started.timers!.stop()));
    started.unsubscribe.forEach((u) => u());
    await step('queues', started.bus && (() => started.bus!.stop()));
    await step('durable workers', started.durable && (() => started.durable!.stop()));
    await step('appTerminate hooks', started.appStarted ? () => runAppHooks('appTerminate') : undefined);
    await step('durable store', started.pool && (() => started.pool!.end()));
    if (started.ownsLocalBus) setLocalMessageBus(undefined);
    await step('local services', started.embedded && (() => started.embedded!.stop()));
    if (started.ownsHostname) delete env.WEBSITE_HOSTNAME;
    await step('HTTP server', started.http && (() => started.http!.close()));
    await step('durable RPC listener', started.rpc && (() => started.rpc!.close()));
  };

  const port = options.port ?? (env.PORT !== undefined && env.PORT !== '' ? Number(env.PORT) : 7071);
  const http = new HttpHost({
    hostname: options.hostname ?? '127.0.0.1',
    port,
    routePrefix: hostJson.routePrefix,
    bodyLimit: options.bodyLimit ?? requestBodyLimit(env, logger),
    logger,
  });
  await http.listen();
  started.http = http;
  const keys = options.keys ?? generateHostKeys();
  const origin = http.origin;
  const baseUrl = hostJson.routePrefix ? `${origin}/${hostJson.routePrefix}` : origin;

  try {
    // durable-functions' getClient rewrites client URLs to localhost:7071 unless WEBSITE_HOSTNAME is set.
    if (!env.WEBSITE_HOSTNAME || env.WEBSITE_HOSTNAME.startsWith('localhost:')) {
      env.WEBSITE_HOSTNAME = `localhost:${http.port}`;
      started.ownsHostname = true;
    }

    const embeddedEnabled = options.embedded === true;
    const embedded = embeddedEnabled
      ? await applyEmbeddedDefaults({
          root,
          env,
          logger,
          hostOrigin: origin,
          routePrefix: hostJson.routePrefix,
        })
      : undefined;
    started.embedded = embedded;
    env.APP_ENV ||= 'local';
    resetSettingsForTests(); // the settings cache must see the final environment

    const bus = new LocalServiceBus({
      maxDeliveryCount: options.serviceBus?.maxDeliveryCount ?? hostJson.serviceBus.maxDeliveryCount,
      maxConcurrentCalls: options.serviceBus?.maxConcurrentCalls ?? hostJson.serviceBus.maxConcurrentCalls,
      maxBatchSize: hostJson.serviceBus.maxMessageBatchSize,
      ...(options.serviceBus?.redeliveryDelayMs !== undefined
        ? { redeliveryDelayMs: options.serviceBus.redeliveryDelayMs }
        : {}),
      ...(options.serviceBus?.duplicateDetectionWindowMs !== undefined
        ? { duplicateDetectionWindowMs: options.serviceBus.duplicateDetectionWindowMs }
        : {}),
      logger,
    });
    started.bus = bus;
    if (!usesRealServiceBus('ServiceBusConnection', env)) {
      setLocalMessageBus(new LocalMessageSender(bus));
      started.ownsLocalBus = true;
    }

    if (options.migrate ?? embeddedEnabled) await runMigrations(logger);
    const sampleData = (options.seed ?? embeddedEnabled) ? await runSeed(logger) : undefined;

    await loadFunctionModules(root, options.modules ?? mainEntries(root));
    const replacements = options.replacements ?? [];
    if (replacements.length > 0) {
      await loadReplacements(() => loadFunctionModules(root, replacements));
      logger.warn(`Functions replaced by ${replacements.length} test module(s) (a simulated deploy)`);
    }
    const lookup = appSettingLookup(env);
    const functions: RegisteredFunction[] = [];
    for (const fn of registeredFunctions().filter(options.functions ?? (() => true))) {
      try {
        functions.push(resolveFunction(fn, lookup));
      } catch (error) {
        // Like the Functions host: the function is disabled, the others run.
        if (!(error instanceof UnresolvedSettingError)) throw error;
        logger.error(`Function ${fn.name} is disabled: ${error.message}`);
      }
    }
    // Like the Functions host: an HTTP function on a reserved or already-taken route is in error and
    // not loaded; the others run.
    const { errors: functionErrors } = validateHttpFunctions(
      functions.filter((f) => triggerType(f) === 'httptrigger'),
    );
    for (const [name, message] of functionErrors) {
      logger.error(`The '${name}' function is in error: ${message}`);
      functions.splice(
        functions.findIndex((f) => f.name === name),
        1,
      );
    }
    const byType = (type: string): RegisteredFunction[] => functions.filter((f) => triggerType(f) === type);
    const orchestrators = new Map(byType('orchestrationtrigger').map((f) => [f.name, f]));
    const activities = new Map(byType('activitytrigger').map((f) => [f.name, f]));
    const needsDurable =
      orchestrators.size > 0 ||
      activities.size > 0 ||
      functions.some((f) => Object.values(f.metadata.bindings).some((b) => isDurableClientBinding(b)));

    const hub = options.durable?.hubName ?? hostJson.durableTask.hubName;
    const inputs: InputProvider = {};
    let durable: DurableEngine | undefined;
    if (needsDurable) {
      const connectionString = options.durable?.databaseUrl ?? env.DATABASE_URL;
      if (!connectionString)
        throw new Error(
          'Durable functions are registered but DATABASE_URL is not set: the host keeps instance state in PostgreSQL',
        );
      const pool = new pg.Pool({
        connectionString,
        max: options.durable?.poolSize ?? 10,
        // Names the store's sessions in pg_stat_activity (a name in the URL wins).
        application_name: 'durable-host',
      });
      started.pool = pool;
      const engine = new DurableEngine({
        // The store guards the pool: a lost connection is logged by SQLSTATE and never ends the host.
        store: new DurableStore(pool, options.durable?.schema ?? 'durable_host', hub, logger),
        logger,
        orchestrators,
        activities,
        inputs,
        maxConcurrentActivities: hostJson.durableTask.maxConcurrentActivityFunctions,
        maxConcurrentOrchestrations: hostJson.durableTask.maxConcurrentOrchestratorFunctions,
        ...(options.durable?.pollIntervalMs !== undefined
          ? { pollIntervalMs: options.durable.pollIntervalMs }
          : {}),
        ...leaseOption(options.durable?.leaseMs, env.DURABLE_ACTIVITY_LEASE_SECONDS, logger),
      });
      const rpc = new DurableRpcListener(
        createDurableApi(engine, () => origin, keys.durableTask, logger),
        options.bodyLimit ?? requestBodyLimit(env, logger),
        logger,
      );
      started.rpc = rpc;
      const rpcBaseUrl = await rpc.listen();
      inputs.durableClient = () => durableClientInput(origin, hub, keys.durableTask, rpcBaseUrl);
      durable = engine;
    }

    const topicSubscriptions = new Map<string, string[]>();
    for (const fn of byType('servicebustrigger')) {
      const { topicName, subscriptionName } = fn.trigger;
      if (typeof topicName === 'string' && typeof subscriptionName === 'string') {
        const list = topicSubscriptions.get(topicName.toLowerCase()) ?? [];
        topicSubscriptions.set(topicName.toLowerCase(), [...list, subscriptionName]);
      }
    }
    const dispatchOutputs = createOutputDispatcher({
      bus,
      logger,
      topicSubscriptions,
      realSender: () => getMessageSender(),
    });

    const timers = new TimerScheduler({ logger, inputs, dispatchOutputs });
    started.timers = timers;
    for (const fn of byType('timertrigger')) timers.add(fn);

    const describe = (): FunctionDescription[] =>
      functions.map((f) => describeFunction(f, hostJson.routePrefix, origin));
    let state = 'Initialized';
    const systemRoutes = [
      {
        prefix: ADMIN_PREFIX,
        keys: [keys.master],
        ...createAdminApi({ functions: () => functions, describe, timers, bus, state: () => state }),
      },
    ];
    if (durable)
      systemRoutes.push({
        prefix: WEBHOOK_PREFIX,
        keys: [keys.durableTask, keys.master],
        ...createDurableApi(durable, () => origin, keys.durableTask, logger),
      });
    http.activate({
      functions: byType('httptrigger'),
      inputs,
      dispatchOutputs,
      systemRoutes,
      functionKeys: [keys.master],
    });

    for (const fn of functions) {
      const type = triggerType(fn);
      if (type === 'servicebustrigger') {
        if (usesRealServiceBus(fn.trigger.connection, env)) {
          logger.warn(
            `${fn.name}: its Service Bus connection is configured, but the local host only serves in-process queues — it will not receive messages from Azure`,
          );
          continue;
        }
        const queue = entityName(fn.trigger);
        if (!queue)
          throw new Error(`${fn.name}: serviceBusTrigger without queueName or topicName/subscriptionName`);
        started.unsubscribe.push(
          bus.subscribe(queue, serviceBusListener(fn, { logger, inputs, dispatchOutputs })),
        );
      } else if (!['httptrigger', 'timertrigger', 'orchestrationtrigger', 'activitytrigger'].includes(type)) {
        logger.warn(
          `${fn.name}: ${fn.trigger.type} is not supported by the local host; the function will not run`,
        );
      }
    }

    if (durable) {
      started.durable = durable;
      await durable.start();
    }
    started.appStarted = true;
    await runAppHooks('appStart');
    timers.start();
    state = 'Running';
    if (options.printFunctions !== false) logger.info(`\n${formatFunctionTable(describe())}\n`);

    let stopping: Promise<void> | undefined;
    const drainTimeoutMs = options.drainTimeoutMs ?? 25_000;
    return {
      url: origin,
      baseUrl,
      port: http.port,
      keys,
      functions,
      functionErrors,
      describe,
      queues: bus,
      durable,
      timers,
      sampleData,
      embedded,
      stop() {
        stopping ??= (async () => {
          state = 'Stopping';
          logger.info('Stopping: draining in-flight requests…');
          if (!(await http.drain(drainTimeoutMs)))
            logger.warn(`Requests still running after ${drainTimeoutMs} ms are cut off`);
          await shutdown();
          state = 'Stopped';
          logger.info('Host stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    await shutdown();
    throw error;
  }
}
