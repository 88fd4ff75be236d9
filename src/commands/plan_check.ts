/**
 * `otelytics plan check --plan F [--config C] --input FILE ...`: checks the events that captured
 * OTLP bodies (OTLP/JSON or protobuf, traces or logs, optionally gzip-compressed) make against a
 * tracking plan, for a CI job. With `--config`, the events are made as an events pipeline makes
 * them before its `tracking_plan` processor: its `analytics` rules and first `privacy` processor
 * (src/dry_run.ts), then its `filter` processors placed before `tracking_plan`; other processors
 * (enrich, ...) are not run and nothing is sent. Without `--config`, log records with an event name
 * are the events (the analytics processor's defaults). Without `--plan`, the plan of the
 * pipeline's `tracking_plan` processor is used.
 *
 * Output (stdout): per event name with violations, how many of its events break the plan and each
 * distinct violation with its count; then one summary line.
 * Exit codes: 0 every event follows the plan; 1 some event breaks it; 2 usage error, invalid config
 * or plan, unreadable input or one that is not OTLP.
 */
import fs from 'node:fs';
import { resolveConfig, type GatewayConfig } from '../config/resolve.js';
import { loadRawConfig } from '../config/sources.js';
import { decodeOtlpBody, dryRun, type DryRunInput } from '../dry_run.js';
import { ConfigErrors, errorMessage } from '../errors.js';
import type { AnalyticsEvent } from '../event.js';
import { defaultRegistry } from '../registry.js';
import { analyticsSchema, type AnalyticsConfig } from '../../processors/analytics/config.js';
import { compileEventMatcher, type FilterConfig } from '../../processors/filter/index.js';
import type { PrivacyConfig } from '../../processors/privacy/index.js';
import type { TrackingPlanConfig } from '../../processors/tracking_plan/index.js';
import { checkEvent, compilePlan, readPlanFile, type TrackingPlan } from '../../processors/tracking_plan/plan.js';
import { commandArgs, usageError } from './args.js';
import { exitQuietlyOnClosedPipe } from './format.js';

export const PLAN_CHECK_USAGE = 'otelytics plan check [--plan FILE] [--config FILE ...] [--set ...] [--pipeline ID] --input FILE [--input ...] [--signal traces|logs]';

/** What events are made by, and checked against, for one events pipeline of a config. */
interface Target {
  pipeline?: string;
  analytics: AnalyticsConfig;
  privacy?: PrivacyConfig;
  filters: ((e: AnalyticsEvent) => boolean)[];
  plan?: { id: string; config: TrackingPlanConfig };
}

/** The pipeline to run: `pipeline`, else the first events pipeline with a tracking_plan processor, else the first with analytics. */
function targetOf(config: GatewayConfig, pipeline: string | undefined): Target | string {
  const typeOf = (id: string) => config.processors.get(id)?.factory.type;
  const candidates = config.pipelines.filter((p) => p.signal === 'events' && p.processors.some((id) => typeOf(id) === 'analytics') && (pipeline === undefined || p.id === pipeline));
  const p = candidates.find((c) => c.processors.some((id) => typeOf(id) === 'tracking_plan')) ?? candidates[0];
  if (!p) return pipeline ? `no events pipeline "${pipeline}" with an analytics processor` : 'no events pipeline with an analytics processor in the config';
  const ai = p.processors.findIndex((id) => typeOf(id) === 'analytics');
  const ti = p.processors.findIndex((id) => typeOf(id) === 'tracking_plan');
  const before = p.processors.slice(ai + 1, ti < 0 ? undefined : ti);
  const pid = before.find((id) => typeOf(id) === 'privacy');
  const cfgOf = <T>(id: string) => config.processors.get(id)!.config as T;
  return {
    pipeline: p.id,
    analytics: cfgOf<AnalyticsConfig>(p.processors[ai]!),
    ...(pid ? { privacy: cfgOf<PrivacyConfig>(pid) } : {}),
    filters: before
      .filter((id) => typeOf(id) === 'filter')
      .map((id) => {
        const f = cfgOf<FilterConfig>(id);
        const include = f.events.include ? compileEventMatcher(f.events.include) : undefined;
        const exclude = f.events.exclude ? compileEventMatcher(f.events.exclude) : undefined;
        return (e: AnalyticsEvent) => (!include || include(e)) && (!exclude || !exclude(e));
      }),
    ...(ti >= 0 ? { plan: { id: p.processors[ti]!, config: cfgOf<TrackingPlanConfig>(p.processors[ti]!) } } : {}),
  };
}

export async function planCheckCommand(argv: string[]): Promise<number> {
  exitQuietlyOnClosedPipe();
  const values = commandArgs('plan check', PLAN_CHECK_USAGE, argv, {
    plan: { type: 'string', short: 'p' },
    config: { type: 'string', multiple: true, short: 'c' },
    set: { type: 'string', multiple: true },
    pipeline: { type: 'string' },
    input: { type: 'string', multiple: true, short: 'i' },
    signal: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof values === 'number') return values;
  const usage = (msg: string) => usageError('plan check', PLAN_CHECK_USAGE, msg);
  const fail = (msg: string) => {
    process.stderr.write(`otelytics plan check: ${msg}\n`);
    return 2;
  };
  if (!values.input?.length) return usage('--input is required');
  if (values.signal !== undefined && values.signal !== 'traces' && values.signal !== 'logs') return usage('--signal must be traces or logs');
  if (!values.config?.length && values.pipeline !== undefined) return usage('--pipeline needs --config');

  let target: Target = { analytics: analyticsSchema.parse({}), filters: [] };
  if (values.config?.length) {
    let config: GatewayConfig;
    try {
      config = resolveConfig(loadRawConfig(values.config, values.set ?? [], process.env), defaultRegistry());
    } catch (err) {
      if (!(err instanceof ConfigErrors)) return fail(errorMessage(err));
      process.stderr.write(`otelytics plan check: invalid configuration (${err.errors.length} error${err.errors.length === 1 ? '' : 's'}):\n`);
      for (const e of err.errors) process.stderr.write(`  ${e.message}\n`);
      return 2;
    }
    const t = targetOf(config, values.pipeline);
    if (typeof t === 'string') return fail(t);
    target = t;
  }

  let plan: TrackingPlan;
  let planName: string;
  try {
    if (values.plan !== undefined) {
      plan = readPlanFile(values.plan);
      planName = values.plan;
    } else if (target.plan) {
      const { file, events } = target.plan.config.plan;
      plan = file !== undefined ? readPlanFile(file) : compilePlan({ events }).plan!;
      planName = file ?? `processors::${target.plan.id}::plan`;
    } else return usage('give --plan, or a --config whose events pipeline has a tracking_plan processor');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(`plan: ${e.code ? `cannot read ${values.plan ?? target.plan?.config.plan.file}: ${e.code}` : e.message}`);
  }

  const inputs: { file: string; input: DryRunInput }[] = [];
  for (const file of values.input) {
    try {
      inputs.push({ file, input: decodeOtlpBody(fs.readFileSync(file), values.signal as 'traces' | 'logs' | undefined) });
    } catch (err) {
      return fail(`input ${file}: ${errorMessage(err)}`);
    }
  }

  /** Per event name: events checked, events with violations, and each distinct violation's count. */
  const byName = new Map<string, { events: number; broken: number; planned: boolean; violations: Map<string, number> }>();
  let checked = 0;
  let broken = 0;
  let violationCount = 0;
  for (const { input } of inputs) {
    for (const made of dryRun(input, target.analytics, target.privacy).events) {
      const e = made.exported;
      if (!e || !target.filters.every((keep) => keep(e))) continue;
      checked++;
      const { planned, violations } = checkEvent(plan, e);
      let s = byName.get(e.name);
      if (!s) byName.set(e.name, (s = { events: 0, broken: 0, planned: planned !== undefined, violations: new Map() }));
      s.events++;
      if (violations.length === 0) continue;
      s.broken++;
      broken++;
      violationCount += violations.length;
      for (const v of violations) {
        const key = v.kind === 'unplanned_event' ? 'unplanned_event: not in the plan' : `${v.kind} ${v.property}: ${v.message}`;
        s.violations.set(key, (s.violations.get(key) ?? 0) + 1);
      }
    }
  }

  let out = '';
  for (const [name, s] of [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (s.broken === 0) continue;
    out += `${name}: ${s.broken} of ${s.events} event${s.events === 1 ? '' : 's'} ${s.broken === 1 ? 'breaks' : 'break'} the plan\n`;
    for (const [v, n] of s.violations) out += `  ${v}${n > 1 ? ` (${n}×)` : ''}\n`;
  }
  const where = target.pipeline ? ` (pipeline ${target.pipeline})` : '';
  out += `${checked} event${checked === 1 ? '' : 's'} from ${inputs.length} input${inputs.length === 1 ? '' : 's'}${where} checked against ${planName} (${plan.events.size} planned events): ${
    broken === 0 ? 'all follow the plan' : `${broken} break it, ${violationCount} violation${violationCount === 1 ? '' : 's'}`
  }\n`;
  await new Promise<void>((resolve) => process.stdout.write(out, () => resolve()));
  return broken === 0 ? 0 : 1;
}
