#!/usr/bin/env node
/**
 * The `otelytics` command.
 *
 *   otelytics --config FILE [--config FILE2 ...] [--set path::to::key=value ...]   run the gateway
 *   otelytics validate --config FILE [...]                                       check, exit 0 or 1
 *   otelytics components                                                         list known types
 *   otelytics tail | rules test | plan check | catalogue | schema                 see src/commands/
 *
 * Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT drain what was accepted first) or a valid
 * config; 1 for an invalid config, a failure at start-up, or a second SIGTERM/SIGINT more than 1 s
 * after the first (exit without draining); 2 for a usage error.
 *
 * With `service::workers` > 1 the process is a supervisor of that many worker processes, each of
 * which runs this file again as a whole gateway (src/supervisor.ts, src/workers.ts).
 */
import cluster from 'node:cluster';
import fs from 'node:fs';
import { format, parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import type { Kind } from './component.js';
import { resolveConfig, type GatewayConfig } from './config/resolve.js';
import { loadRawConfig } from './config/sources.js';
import { ConfigErrors, errorMessage } from './errors.js';
import { Gateway } from './gateway.js';
import { runSupervisor, type SupervisorMessage, type WorkerMessage } from './supervisor.js';
import { defaultWorkers, workerIdentity } from './workers.js';
import { defaultRegistry } from './registry.js';
import { startSelfTracing, stopSelfTracing } from './selftrace.js';
import { CATALOGUE_USAGE, catalogueCommand } from './commands/catalogue.js';
import { RULES_TEST_USAGE, rulesTestCommand } from './commands/rules_test.js';
import { PLAN_CHECK_USAGE, planCheckCommand } from './commands/plan_check.js';
import { SCHEMA_USAGE, schemaCommand } from './commands/schema.js';
import { TAIL_USAGE, tailCommand } from './commands/tail.js';

const USAGE = `usage:
  otelytics --config FILE [--config FILE ...] [--set path::to::key=value ...]
  otelytics validate --config FILE [--config FILE ...] [--set ...]
  otelytics components
  ${TAIL_USAGE}
  ${RULES_TEST_USAGE}
  ${CATALOGUE_USAGE}
  ${PLAN_CHECK_USAGE}
  ${SCHEMA_USAGE}
  otelytics --version

Several --config files are merged in order (maps merge, lists are replaced); --set overrides one key.
\${env:VAR} and \${env:VAR:-default} are replaced by environment variables.`;

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function load(configs: string[], sets: string[]): GatewayConfig {
  if (configs.length === 0) throw new ConfigErrors([]);
  return resolveConfig(loadRawConfig(configs, sets, process.env), defaultRegistry());
}

function printConfigErrors(err: ConfigErrors): void {
  if (err.errors.length === 0) {
    process.stderr.write(`otelytics: no --config given\n${USAGE}\n`);
    return;
  }
  process.stderr.write(`otelytics: invalid configuration (${err.errors.length} error${err.errors.length === 1 ? '' : 's'}):\n`);
  for (const e of err.errors) process.stderr.write(`  ${e.message}\n`);
}

function components(): void {
  const registry = defaultRegistry();
  const kinds: [Kind, string][] = [
    ['receiver', 'receivers'],
    ['processor', 'processors'],
    ['exporter', 'exporters'],
    ['connector', 'connectors'],
    ['extension', 'extensions'],
  ];
  for (const [kind, title] of kinds) {
    process.stdout.write(`${title}:\n`);
    for (const f of registry.all(kind)) process.stdout.write(`  ${f.type.padEnd(16)} ${f.description}\n`);
  }
}

/** A second SIGTERM/SIGINT within this many ms of the first is the same stop request; later, it exits at once. */
const REPEATED_SIGNAL_MS = 1000;

async function run(config: GatewayConfig): Promise<void> {
  const worker = workerIdentity();
  const workers = config.service.workers ?? defaultWorkers();
  const base = worker ? { service: 'otelytics', worker: worker.index } : { service: 'otelytics' };
  const logger: Logger = pino({ level: config.service.telemetry.logs.level, base }, pino.destination({ fd: 2, sync: false }));
  if (!worker && workers > 1 && cluster.isPrimary) return runSupervisor(config, workers, logger);
  process.on('uncaughtException', (err) => logger.error({ err: err.message, stack: err.stack }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => logger.error({ err: errorMessage(err) }, 'unhandled promise rejection'));
  // grpc-js writes its own lines to stderr (a failed bind, besides the error it returns): into the log, at debug.
  const grpcLog = (...args: unknown[]) => logger.debug({ component: 'grpc-js' }, format(...args));
  grpc.setLogger({ error: grpcLog, info: grpcLog, debug: grpcLog });
  await startSelfTracing(config.service.telemetry.traces, version());
  const gateway = new Gateway(config, logger, worker);
  // A worker answers the supervisor's requests for its metrics (the supervisor serves them for all).
  if (worker) {
    process.on('message', (m: SupervisorMessage) => {
      if (m?.otelytics !== 'metrics') return;
      gateway.telemetry.registry.getMetricsAsJSON().then(
        (metrics) => tell({ otelytics: 'metrics', id: m.id, metrics }),
        () => tell({ otelytics: 'metrics', id: m.id, metrics: [] }),
      );
    });
  }
  try {
    await gateway.start();
  } catch (err) {
    // One line, like a config error: a setting by its full key, or the component that failed.
    await stopSelfTracing().catch(() => undefined);
    logger.flush();
    if (worker) {
      // The supervisor reports it once for all workers.
      process.exitCode = 1;
      tell({ otelytics: 'failed', message: errorMessage(err) }, () => process.exit(1));
      return;
    }
    process.stderr.write(`otelytics: ${errorMessage(err)}\n`);
    process.exitCode = 1;
    return;
  }
  if (worker) tell({ otelytics: 'state', state: 'ready' });
  let firstSignalAt = 0;
  const stop = (signal: string) => {
    if (firstSignalAt > 0) {
      // Ctrl-C reaches the gateway twice under `npm start`: from the terminal (to the whole
      // process group) and forwarded by npm. A repeat that close to the first is the same request.
      if (Date.now() - firstSignalAt < REPEATED_SIGNAL_MS) return;
      logger.warn(`second ${signal}: exiting without draining`);
      logger.flush();
      process.exit(1);
    }
    firstSignalAt = Date.now();
    if (worker) {
      tell({ otelytics: 'state', state: 'draining' });
      logger.info({ signal }, 'worker draining what was accepted');
    } else logger.info({ signal }, 'shutting down: no new data taken, draining what was accepted');
    gateway.shutdown().then(
      async () => {
        // The gateway's own spans of the drain are flushed last.
        await stopSelfTracing().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'own traces not flushed'));
        logger.info(worker ? 'worker stopped' : 'stopped');
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  // A worker is stopped by its supervisor (SIGTERM); Ctrl-C reaches the whole process group, workers too.
  process.on('SIGINT', () => (worker ? undefined : stop('SIGINT')));
}

/** Sends a message to the supervisor (a worker's IPC channel), if it is still there. */
function tell(m: WorkerMessage, then?: () => void): void {
  if (process.connected && process.send) process.send(m, undefined, {}, () => then?.());
  else then?.();
}

async function main(argv: string[]): Promise<void> {
  // Subcommands with options of their own.
  if (argv[0] === 'tail') return void (process.exitCode = await tailCommand(argv.slice(1)));
  if (argv[0] === 'schema') return void (process.exitCode = await schemaCommand(argv.slice(1), version()));
  if (argv[0] === 'catalogue') return void (process.exitCode = await catalogueCommand(argv.slice(1)));
  if (argv[0] === 'rules' && argv[1] === 'test') return void (process.exitCode = await rulesTestCommand(argv.slice(2)));
  if (argv[0] === 'plan' && argv[1] === 'check') return void (process.exitCode = await planCheckCommand(argv.slice(2)));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', multiple: true, short: 'c' },
        set: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    process.stderr.write(`otelytics: ${errorMessage(err)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const { values, positionals } = parsed;
  if (values.help) return void process.stdout.write(USAGE + '\n');
  if (values.version) return void process.stdout.write(`otelytics ${version()}\n`);
  const command = positionals[0] ?? 'run';
  const configs = values.config ?? [];
  const sets = values.set ?? [];
  switch (command) {
    case 'components':
      components();
      return;
    case 'validate':
    case 'run': {
      let config: GatewayConfig;
      try {
        config = load(configs, sets);
      } catch (err) {
        if (err instanceof ConfigErrors) printConfigErrors(err);
        else process.stderr.write(`otelytics: ${errorMessage(err)}\n`);
        process.exitCode = configs.length === 0 ? 2 : 1;
        return;
      }
      if (command === 'validate') {
        process.stdout.write(`configuration is valid: ${config.pipelines.length} pipeline(s): ${config.pipelines.map((p) => p.id).join(', ')}\n`);
        return;
      }
      await run(config);
      return;
    }
    default:
      process.stderr.write(`otelytics: unknown command "${command}"\n${USAGE}\n`);
      process.exitCode = 2;
  }
}

await main(process.argv.slice(2));
