// The local Functions host's public surface (see README "Local host" and docs in each module).
export { startHost, type HostOptions, type LocalHost } from './host.js';
export { installFunctionsCore, registeredFunctions } from './core-api.js';
export { compileRoute, RouteTable, type RouteMatch } from './routing.js';
export { parseSchedule, type Schedule } from './ncrontab.js';
export {
  LocalServiceBus,
  type BusMessage,
  type BusMessageInit,
  type DeadLetteredMessage,
  type QueueListener,
} from './service-bus/local-bus.js';
export { LocalMessageSender } from './service-bus/sender.js';
export { DurableEngine, type InstanceStatus, type StartResult } from './durable/engine.js';
export { consoleLogger, silentLogger } from './log.js';
export type { ModuleSource } from './loader.js';
export type { HostLogger, RegisteredFunction } from './types.js';
