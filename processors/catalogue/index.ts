/**
 * The `catalogue` processor: records which events pass, per event name their sources (analytics
 * rule or log event), services, SDK languages, properties with the JSON types seen and how often
 * each is present, counts and first/last seen; never a value, except a few samples of properties
 * a tracking plan or `sample_properties` marks safe (recorder.ts). Placed after `privacy`, so it
 * never sees raw personal data. Events pass on unchanged.
 *
 * One catalogue per processor id: a `catalogue` listed in several pipelines records them all into
 * the same one. Read by the status page (`GET /api/catalogue`) and `otelytics catalogue`; with
 * `storage`, written to a JSON file periodically and at shutdown (a temporary file renamed over
 * it) and read back at start.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Consumer, Payload, ProcessorFactory } from '../../src/component.js';
import { duration, z } from '../../src/config/schema.js';
import { SettingError, errorMessage } from '../../src/errors.js';
import type { Telemetry } from '../../src/telemetry.js';
import { workerIdentity } from '../../src/workers.js';
import { planSampleProperties } from './plan.js';

/**
 * The file a process keeps the catalogue in: `storage` itself, or for worker i > 0 of a gateway of
 * several (`service::workers`) `<name>-worker-<i><ext>` beside it (each worker sees its own share
 * of the events; `otelytics catalogue --file a --file b` merges them).
 */
export function storageFileOf(storage: string, worker = workerIdentity()?.index ?? 0): string {
  if (worker === 0) return storage;
  const { dir, name, ext } = path.parse(storage);
  return path.join(dir, `${name}-worker-${worker}${ext}`);
}
import { CatalogueRecorder, DEFAULT_LIMITS, asSnapshot, type CatalogueSnapshot, type SampleSelector } from './recorder.js';

export { CatalogueRecorder, mergeSnapshots, asSnapshot, type CatalogueSnapshot, type EventSnapshot } from './recorder.js';
export { inferPlan, planYaml, type TrackingPlan } from './plan.js';

const limit = (d: number, what: string) => z.number().int().min(1).max(1_000_000).default(d).describe(`${what} Default ${d}.`);

export const catalogueSchema = z.strictObject({
  max_event_names: limit(DEFAULT_LIMITS.maxEventNames, 'Most event names recorded; events of further names are only counted (overflow).'),
  max_properties_per_event: limit(DEFAULT_LIMITS.maxPropertiesPerEvent, 'Most property names recorded per event name; further ones are only counted.'),
  max_values_per_field: limit(DEFAULT_LIMITS.maxValuesPerField, 'Most distinct sources, services, SDK languages, categories and privacy levels kept per event name; the rest counted as "(other)".'),
  max_samples: z.number().int().min(0).max(100).default(DEFAULT_LIMITS.maxSamples).describe(`Most distinct sample values kept per sampled property. Default ${DEFAULT_LIMITS.maxSamples}.`),
  sample_properties: z
    .union([z.array(z.string().min(1)), z.record(z.string().min(1), z.array(z.string().min(1)))])
    .default([])
    .describe('Properties whose values may be sampled (they must hold no personal data): a list of property names (any event), or a map event name (or "*") → property names. Default: none.'),
  plan: z.string().min(1).optional().describe('A tracking plan (YAML or JSON); its properties with "x-sample": true are sampled too. Read at start.'),
  storage: z.string().min(1).optional().describe('JSON file the catalogue is kept in: read at start, written every storage_interval and at shutdown. Default: memory only.'),
  storage_interval: duration('1m')
    .refine((ms) => ms > 0, { message: 'must be more than 0' })
    .describe('How often the catalogue is written to storage. Default 1m.'),
});

export type CatalogueConfig = z.infer<typeof catalogueSchema>;

/** The catalogue of one processor id, shared by the pipelines it is listed in. */
export interface SharedCatalogue {
  readonly id: string;
  readonly recorder: CatalogueRecorder;
  /** Pipelines it records. */
  readonly pipelines: Set<string>;
  /** Processors started and not yet shut down. */
  running: number;
  timer?: NodeJS.Timeout;
  writing?: Promise<void>;
}

const byTelemetry = new WeakMap<Telemetry, Map<string, SharedCatalogue>>();

/** The catalogues of a gateway (by its telemetry), by processor id: for the status page. */
export function cataloguesOf(telemetry: Telemetry): ReadonlyMap<string, SharedCatalogue> {
  return byTelemetry.get(telemetry) ?? new Map();
}

/**
 * The sample selector of `sample_properties` and of the properties a plan marks with
 * `"x-sample": true` (`{ event: [property] }`, from {@link planSampleProperties}).
 */
export function sampleSelector(sampleProperties: CatalogueConfig['sample_properties'], planMarked: Record<string, string[]> = {}): SampleSelector {
  const any = new Set<string>();
  const byEvent = new Map<string, Set<string>>();
  const add = (event: string, props: readonly string[]) => {
    if (event === '*') for (const p of props) any.add(p);
    else {
      let s = byEvent.get(event);
      if (!s) byEvent.set(event, (s = new Set()));
      for (const p of props) s.add(p);
    }
  };
  if (Array.isArray(sampleProperties)) add('*', sampleProperties);
  else for (const [e, props] of Object.entries(sampleProperties)) add(e, props);
  for (const [e, props] of Object.entries(planMarked)) add(e, props);
  if (any.size === 0 && byEvent.size === 0) return () => false;
  return (event, property) => any.has(property) || byEvent.get(event)?.has(property) === true;
}

/** Writes `snapshot` to `file` through a temporary file renamed over it, so a reader never sees half a file. */
export async function writeSnapshot(file: string, snapshot: CatalogueSnapshot): Promise<void> {
  await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await fs.promises.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(snapshot, null, 1) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
}

/** A persisted catalogue, or undefined when the file does not exist. @throws Error when it cannot be read or is no catalogue. */
export function readSnapshot(file: string): CatalogueSnapshot | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return asSnapshot(JSON.parse(text));
}

class CatalogueProcessor {
  constructor(
    private readonly id: string,
    private readonly shared: SharedCatalogue,
    private readonly cfg: CatalogueConfig,
    private readonly next: Consumer,
    private readonly telemetry: Telemetry,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const s = this.shared;
    if (s.running++ > 0) return;
    if (this.cfg.plan !== undefined) {
      try {
        s.recorder.sample = sampleSelector(this.cfg.sample_properties, planSampleProperties(this.cfg.plan));
      } catch (err) {
        s.running--;
        throw new SettingError('plan', errorMessage(err), { cause: err });
      }
    }
    if (this.cfg.storage === undefined) return;
    const file = storageFileOf(this.cfg.storage);
    try {
      const saved = readSnapshot(file);
      if (saved) {
        s.recorder.load(saved);
        this.logger.info({ file, event_names: saved.events.length }, 'event catalogue loaded');
      }
    } catch (err) {
      const aside = `${file}.unreadable-${Date.now()}`;
      try {
        fs.renameSync(file, aside);
      } catch (renameErr) {
        s.running--;
        throw new SettingError('storage', `${file} cannot be read (${errorMessage(err)}) nor moved aside (${errorMessage(renameErr)})`);
      }
      this.logger.warn({ file, moved_to: aside, err: errorMessage(err) }, 'event catalogue file unreadable: moved aside, starting empty');
    }
    s.timer = setInterval(() => void this.persist(), this.cfg.storage_interval);
    s.timer.unref();
  }

  /** Writes the catalogue to storage (one write at a time; a failure is logged and retried at the next interval). */
  private persist(): Promise<void> {
    const s = this.shared;
    const file = storageFileOf(this.cfg.storage!);
    const prev = s.writing ?? Promise.resolve();
    const next = prev.then(() =>
      writeSnapshot(file, s.recorder.snapshot()).catch((err: unknown) => {
        this.logger.warn({ file, err: errorMessage(err) }, 'event catalogue not written');
      }),
    );
    s.writing = next;
    return next;
  }

  async shutdown(): Promise<void> {
    const s = this.shared;
    if (--s.running > 0 || this.cfg.storage === undefined) return;
    clearInterval(s.timer);
    s.timer = undefined;
    await this.persist();
  }

  consume(p: Payload): Promise<void> {
    if (p.signal === 'events') {
      const r = this.shared.recorder;
      r.record(p.data);
      const o = r.takeOverflow();
      if (o.events > 0 || o.properties > 0) {
        const c = this.telemetry.counter('otelytics_catalogue_overflow', 'Events (what="events") and property occurrences (what="properties") the event catalogue did not record, beyond its limits.', ['processor', 'what']);
        if (o.events > 0) c.inc({ processor: this.id, what: 'events' }, o.events);
        if (o.properties > 0) c.inc({ processor: this.id, what: 'properties' }, o.properties);
      }
    }
    return this.next.consume(p);
  }
}

export const catalogueProcessorFactory: ProcessorFactory<CatalogueConfig> = {
  kind: 'processor',
  type: 'catalogue',
  description: 'Records the events seen: per name its sources, services, properties with their types and presence (no values)',
  configSchema: catalogueSchema,
  accepts: ['events'],
  output: (s) => s,
  mutatesData: false,
  create(settings, config, next) {
    let all = byTelemetry.get(settings.telemetry);
    if (!all) byTelemetry.set(settings.telemetry, (all = new Map()));
    let shared = all.get(settings.id);
    if (!shared) {
      const limits = { maxEventNames: config.max_event_names, maxPropertiesPerEvent: config.max_properties_per_event, maxValuesPerField: config.max_values_per_field, maxSamples: config.max_samples };
      shared = { id: settings.id, recorder: new CatalogueRecorder(limits, sampleSelector(config.sample_properties)), pipelines: new Set(), running: 0 };
      all.set(settings.id, shared);
    }
    shared.pipelines.add(settings.pipeline);
    return new CatalogueProcessor(settings.id, shared, config, next, settings.telemetry, settings.logger);
  },
};
