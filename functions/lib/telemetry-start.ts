/**
 * Imported first by every function entry point: the worker loads them in an order of its own, and
 * Application Insights must start (once per worker, module cache) before the modules it instruments
 * (http, pg, ioredis) are loaded. Reads the variable directly: settings validation must not run at import.
 */
import { initTelemetry } from '../../shared/telemetry/index.js';

initTelemetry(process.env.APPLICATIONINSIGHTS_CONNECTION_STRING);
