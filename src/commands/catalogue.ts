/**
 * `otelytics catalogue`: prints the event catalogue (processors/catalogue): per event name its
 * count, sources, services and properties with their types and how often each is present.
 *
 *   otelytics catalogue --from http://127.0.0.1:55679 [--token T]   a running gateway's status page (GET /api/catalogue)
 *   otelytics catalogue --file data/catalogue.json [--file ...]    storage files (several: merged, e.g. of several gateways)
 *   otelytics catalogue --config F [--set ...] --input FILE...     offline: OTLP bodies run through the config's
 *                                                                  analytics rules and privacy, as `rules test` does
 *   options: --json (the catalogue as JSON), --write-plan FILE (a starting tracking plan, YAML),
 *            --processor ID (--from: one catalogue processor), --pipeline ID, --signal traces|logs (--config)
 *
 * Offline, the catalogue is recorded with the limits and sampled properties of the pipeline's
 * `catalogue` processor when it has one, else the defaults; events are recorded as they leave
 * `privacy` (the first privacy processor after `analytics`), as the processor placed after it
 * records them. With several events pipelines their catalogues are merged (--pipeline picks one).
 * The token for --from comes from --token, else OTELYTICS_STATUS_TOKEN.
 * Exit codes: 0 done; 1 unreadable source, invalid config or input, unreachable gateway; 2 usage error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConfig, type GatewayConfig } from '../config/resolve.js';
import { loadRawConfig } from '../config/sources.js';
import { decodeOtlpBody, dryRun, type DryRunInput } from '../dry_run.js';
import { ConfigErrors, errorMessage } from '../errors.js';
import { defaultRegistry } from '../registry.js';
import { catalogueSchema, sampleSelector, type CatalogueConfig } from '../../processors/catalogue/index.js';
import { planSampleProperties, inferPlan, planYaml, schemaType } from '../../processors/catalogue/plan.js';
import { CatalogueRecorder, asSnapshot, mergeSnapshots, type CatalogueSnapshot, type EventSnapshot } from '../../processors/catalogue/recorder.js';
import { usageError } from './args.js';
import { exitQuietlyOnClosedPipe } from './format.js';
import { rulesUnderTest } from './rules_test.js';

export const CATALOGUE_USAGE =
  'otelytics catalogue (--from URL [--token T] [--processor ID] | --file FILE [--file ...] | --config FILE [--set ...] --input FILE... [--signal traces|logs] [--pipeline ID]) [--json] [--write-plan FILE]';

/** What `GET /api/catalogue` answers. */
export interface CatalogueApiAnswer {
  catalogues: { id: string; pipelines: string[]; catalogue: CatalogueSnapshot }[];
}

/** The catalogue config of the first `catalogue` processor in `pipeline`, or the defaults. */
function catalogueConfigOf(config: GatewayConfig, pipeline: string): CatalogueConfig {
  const p = config.pipelines.find((x) => x.id === pipeline);
  const id = p?.processors.find((x) => config.processors.get(x)?.factory.type === 'catalogue');
  return id ? (config.processors.get(id)!.config as CatalogueConfig) : catalogueSchema.parse({});
}

/** Runs OTLP bodies through each events pipeline's analytics rules and privacy and records what comes out. */
export function offlineCatalogue(config: GatewayConfig, inputs: readonly DryRunInput[], pipeline?: string): CatalogueSnapshot {
  let targets = rulesUnderTest(config);
  if (pipeline !== undefined) targets = targets.filter((t) => t.pipeline === pipeline);
  if (targets.length === 0) throw new Error(pipeline ? `no events pipeline "${pipeline}" with an analytics processor` : 'no events pipeline with an analytics processor in the config');
  const snapshots = targets.map((t) => {
    const cfg = catalogueConfigOf(config, t.pipeline);
    const marked = cfg.plan !== undefined ? planSampleProperties(cfg.plan) : {};
    const recorder = new CatalogueRecorder(
      { maxEventNames: cfg.max_event_names, maxPropertiesPerEvent: cfg.max_properties_per_event, maxValuesPerField: cfg.max_values_per_field, maxSamples: cfg.max_samples },
      sampleSelector(cfg.sample_properties, marked),
    );
    for (const input of inputs) {
      const r = dryRun(input, t.analytics.config, t.privacy?.config);
      recorder.record(r.events.flatMap((e) => (e.exported ? [e.exported] : [])));
    }
    return recorder.snapshot();
  });
  return snapshots.length === 1 ? snapshots[0]! : mergeSnapshots(snapshots);
}

/** An event time in nanoseconds as ISO 8601 (to the millisecond); "-" when unknown. */
function iso(nanos: string): string {
  try {
    const ms = Number(BigInt(nanos || '0') / 1_000_000n);
    return ms > 0 ? new Date(ms).toISOString() : '-';
  } catch {
    return '-';
  }
}

const tally = (t: Record<string, number>, f: (k: string) => string = (k) => k) =>
  Object.entries(t)
    .map(([k, n]) => `${f(k)} (${n.toLocaleString('en-US')})`)
    .join(', ') || '-';

const sourceName = (s: string) => (s.startsWith('rule:') ? `rule ${s.slice(5)}` : s.startsWith('log:') ? `log event ${s.slice(4)}` : s);

function percent(n: number, of: number): string {
  if (of === 0) return '-';
  const p = (100 * n) / of;
  return p === 100 || p === 0 ? `${p}%` : `${p < 1 ? p.toFixed(2) : p.toFixed(1)}%`;
}

/** One event name as lines of text. */
function eventBlock(e: EventSnapshot): string[] {
  const lines = [`${e.name}  ${e.count.toLocaleString('en-US')} event${e.count === 1 ? '' : 's'}`];
  lines.push(`  sources:        ${tally(e.sources, sourceName)}`);
  lines.push(`  services:       ${tally(e.services)}`);
  if (Object.keys(e.sdk_languages).length) lines.push(`  sdk languages:  ${tally(e.sdk_languages)}`);
  if (Object.keys(e.categories).length) lines.push(`  category:       ${tally(e.categories)}`);
  if (Object.keys(e.privacy_levels).length) lines.push(`  privacy level:  ${tally(e.privacy_levels)}`);
  lines.push(`  seen:           ${iso(e.first_seen.time_unix_nano)} to ${iso(e.last_seen.time_unix_nano)} (event time), last received ${e.last_seen.wall}`);
  const props = Object.entries(e.properties);
  if (props.length === 0) lines.push('  properties:     none');
  else {
    const rows = props.map(([k, p]) => {
      const t = schemaType(p);
      return [k, Array.isArray(t) ? t.join(' | ') : t, percent(p.count, e.count), p.samples?.length ? `e.g. ${p.samples.map((v) => JSON.stringify(v)).join(', ')}` : ''];
    });
    const w0 = Math.max('property'.length, ...rows.map((r) => r[0]!.length));
    const w1 = Math.max('type'.length, ...rows.map((r) => r[1]!.length));
    lines.push(`  ${'property'.padEnd(w0)}  ${'type'.padEnd(w1)}  present`);
    for (const r of rows) lines.push(`  ${r[0]!.padEnd(w0)}  ${r[1]!.padEnd(w1)}  ${r[2]!.padStart(7)}${r[3] ? `  ${r[3]}` : ''}`.trimEnd());
  }
  if (e.properties_overflow > 0) lines.push(`  (${e.properties_overflow.toLocaleString('en-US')} property occurrences beyond the limit of ${'properties per event'} not recorded)`);
  return lines;
}

/** The catalogue as readable text: a summary line, then one block per event name. */
export function catalogueText(c: CatalogueSnapshot): string {
  const total = c.events.reduce((n, e) => n + e.count, 0);
  const head = `event catalogue: ${c.events.length} event name${c.events.length === 1 ? '' : 's'}, ${total.toLocaleString('en-US')} event${total === 1 ? '' : 's'}${c.since ? ` since ${c.since}` : ''}${
    c.overflow.events > 0 ? `; ${c.overflow.events.toLocaleString('en-US')} events of names beyond the limit of ${c.limits.max_event_names} not recorded` : ''
  }`;
  return [head, ...c.events.flatMap((e) => ['', ...eventBlock(e)])].join('\n') + '\n';
}

async function fromGateway(url: string, token: string | undefined, processor: string | undefined): Promise<CatalogueSnapshot> {
  const res = await fetch(new URL('/api/catalogue', url), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  if (!res.ok) {
    let why = text;
    try {
      why = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      /* not JSON */
    }
    throw new Error(`${url}: ${res.status} ${why}`);
  }
  const answer = JSON.parse(text) as CatalogueApiAnswer;
  let list = answer.catalogues ?? [];
  if (processor !== undefined) {
    list = list.filter((c) => c.id === processor);
    if (list.length === 0) throw new Error(`${url}: no catalogue processor "${processor}" (there are: ${answer.catalogues.map((c) => c.id).join(', ') || 'none'})`);
  }
  if (list.length === 0) throw new Error(`${url}: the gateway runs no catalogue processor (add catalogue to an events pipeline, after privacy)`);
  return list.length === 1 ? asSnapshot(list[0]!.catalogue) : mergeSnapshots(list.map((c) => asSnapshot(c.catalogue)));
}

export async function catalogueCommand(argv: string[]): Promise<number> {
  exitQuietlyOnClosedPipe();
  const usage = (msg: string) => usageError('catalogue', CATALOGUE_USAGE, msg);
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        from: { type: 'string' },
        token: { type: 'string' },
        processor: { type: 'string' },
        file: { type: 'string', multiple: true, short: 'f' },
        config: { type: 'string', multiple: true, short: 'c' },
        set: { type: 'string', multiple: true },
        input: { type: 'string', multiple: true, short: 'i' },
        signal: { type: 'string' },
        pipeline: { type: 'string' },
        json: { type: 'boolean', default: false },
        'write-plan': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return usage(errorMessage(err));
  }
  if (values.help) {
    process.stdout.write(`usage: ${CATALOGUE_USAGE}\n`);
    return 0;
  }
  const modes = [values.from !== undefined, values.file !== undefined, values.config !== undefined].filter(Boolean).length;
  if (modes !== 1) return usage('give one of --from, --file or --config');
  // Files after --input FILE are inputs too (--input a.pb b.pb).
  const inputs = [...(values.input ?? []), ...positionals];
  if (values.config !== undefined && inputs.length === 0) return usage('--config needs --input FILE...');
  if (values.config === undefined && (inputs.length > 0 || values.pipeline !== undefined || values.signal !== undefined)) return usage('--input, --pipeline and --signal go with --config');
  if (values.signal !== undefined && values.signal !== 'traces' && values.signal !== 'logs') return usage('--signal must be traces or logs');
  const fail = (msg: string) => {
    process.stderr.write(`otelytics catalogue: ${msg}\n`);
    return 1;
  };

  let catalogue: CatalogueSnapshot;
  if (values.from !== undefined) {
    try {
      catalogue = await fromGateway(values.from, values.token ?? process.env.OTELYTICS_STATUS_TOKEN, values.processor);
    } catch (err) {
      return fail(errorMessage(err));
    }
  } else if (values.file !== undefined) {
    const read: CatalogueSnapshot[] = [];
    for (const file of values.file) {
      try {
        read.push(asSnapshot(JSON.parse(fs.readFileSync(file, 'utf8'))));
      } catch (err) {
        return fail(`${file}: ${errorMessage(err)}`);
      }
    }
    catalogue = read.length === 1 ? read[0]! : mergeSnapshots(read);
  } else {
    let config: GatewayConfig;
    try {
      config = resolveConfig(loadRawConfig(values.config!, values.set ?? [], process.env), defaultRegistry());
    } catch (err) {
      if (err instanceof ConfigErrors) {
        process.stderr.write(`otelytics catalogue: invalid configuration (${err.errors.length} error${err.errors.length === 1 ? '' : 's'}):\n`);
        for (const e of err.errors) process.stderr.write(`  ${e.message}\n`);
        return 1;
      }
      return fail(errorMessage(err));
    }
    const decoded: DryRunInput[] = [];
    for (const file of inputs) {
      try {
        decoded.push(decodeOtlpBody(fs.readFileSync(file), values.signal as 'traces' | 'logs' | undefined));
      } catch (err) {
        return fail(`input ${file}: ${errorMessage(err)}`);
      }
    }
    try {
      catalogue = offlineCatalogue(config, decoded, values.pipeline);
    } catch (err) {
      return fail(errorMessage(err));
    }
  }

  if (values['write-plan'] !== undefined) {
    const file = values['write-plan'];
    const total = catalogue.events.reduce((n, e) => n + e.count, 0);
    const header = ` Tracking plan inferred by otelytics catalogue from ${total.toLocaleString('en-US')} events (${catalogue.events.length} names)${catalogue.since ? ` since ${catalogue.since}` : ''}.\n Review it: required lists the properties every observed event carried; types are those seen.`;
    try {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      fs.writeFileSync(file, planYaml(inferPlan(catalogue), header));
    } catch (err) {
      return fail(`--write-plan ${file}: ${errorMessage(err)}`);
    }
    process.stderr.write(`tracking plan for ${catalogue.events.length} event name${catalogue.events.length === 1 ? '' : 's'} written to ${file}\n`);
  }
  const out = values.json ? JSON.stringify(catalogue, null, 2) + '\n' : catalogueText(catalogue);
  await new Promise<void>((resolve) => process.stdout.write(out, () => resolve()));
  return 0;
}
