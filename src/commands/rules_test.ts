/**
 * `otelytics rules test --config F --input FILE`: prints the events that the config's `analytics`
 * rules and `privacy` settings make from an OTLP body (OTLP/JSON or protobuf, traces or logs,
 * optionally gzip-compressed), for checking rules in a CI job. Per events pipeline with an
 * analytics processor, it runs that processor and the first privacy processor after it, in-process
 * (src/dry_run.ts); other processors (filter, batch, enrich, ...) are not run and nothing is sent.
 *
 * Output: `--format json` (the default when stdout is not a terminal) prints one JSON object per
 * event as exporters would get it, `{"pipeline":…,"input":…,"event":{…}}`; `--format pretty` one
 * coloured line per event. A summary per pipeline and input goes to stderr.
 * Exit codes: 0 done (zero events included); 1 invalid config, unreadable input or one that is not
 * OTLP (JSON without any span or log record field, bytes that are no OTLP protobuf),
 * or no pipeline to run; 2 usage error.
 */
import fs from 'node:fs';
import { resolveConfig, type GatewayConfig } from '../config/resolve.js';
import { loadRawConfig } from '../config/sources.js';
import { decodeOtlpBody, dryRun, type DryRunInput } from '../dry_run.js';
import { ConfigErrors, errorMessage } from '../errors.js';
import { defaultRegistry } from '../registry.js';
import type { AnalyticsConfig } from '../../processors/analytics/config.js';
import type { PrivacyConfig } from '../../processors/privacy/index.js';
import { commandArgs, usageError } from './args.js';
import { eventLine, exitQuietlyOnClosedPipe, palette, useColor } from './format.js';

export const RULES_TEST_USAGE =
  'otelytics rules test --config FILE [--config ...] [--set ...] --input FILE [--input ...] [--signal traces|logs] [--pipeline ID] [--format json|pretty] [--no-color]';

/** The analytics processor of an events pipeline and the first privacy processor after it. */
export interface RulesUnderTest {
  pipeline: string;
  analytics: { id: string; config: AnalyticsConfig };
  privacy?: { id: string; config: PrivacyConfig };
}

export function rulesUnderTest(config: GatewayConfig): RulesUnderTest[] {
  const out: RulesUnderTest[] = [];
  for (const p of config.pipelines) {
    if (p.signal !== 'events') continue;
    const ai = p.processors.findIndex((id) => config.processors.get(id)?.factory.type === 'analytics');
    if (ai < 0) continue;
    const aid = p.processors[ai]!;
    const pid = p.processors.slice(ai + 1).find((id) => config.processors.get(id)?.factory.type === 'privacy');
    out.push({
      pipeline: p.id,
      analytics: { id: aid, config: config.processors.get(aid)!.config as AnalyticsConfig },
      ...(pid ? { privacy: { id: pid, config: config.processors.get(pid)!.config as PrivacyConfig } } : {}),
    });
  }
  return out;
}

export async function rulesTestCommand(argv: string[]): Promise<number> {
  exitQuietlyOnClosedPipe();
  const values = commandArgs('rules test', RULES_TEST_USAGE, argv, {
    config: { type: 'string', multiple: true, short: 'c' },
    set: { type: 'string', multiple: true },
    input: { type: 'string', multiple: true, short: 'i' },
    signal: { type: 'string' },
    pipeline: { type: 'string' },
    format: { type: 'string' },
    'no-color': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof values === 'number') return values;
  const usage = (msg: string) => usageError('rules test', RULES_TEST_USAGE, msg);
  if (!values.config?.length) return usage('--config is required');
  if (!values.input?.length) return usage('--input is required');
  if (values.signal !== undefined && values.signal !== 'traces' && values.signal !== 'logs') return usage('--signal must be traces or logs');
  const format = values.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') return usage('--format must be json or pretty');

  let config: GatewayConfig;
  try {
    config = resolveConfig(loadRawConfig(values.config, values.set ?? [], process.env), defaultRegistry());
  } catch (err) {
    if (err instanceof ConfigErrors) {
      process.stderr.write(`otelytics rules test: invalid configuration (${err.errors.length} error${err.errors.length === 1 ? '' : 's'}):\n`);
      for (const e of err.errors) process.stderr.write(`  ${e.message}\n`);
    } else process.stderr.write(`otelytics rules test: ${errorMessage(err)}\n`);
    return 1;
  }
  let targets = rulesUnderTest(config);
  if (values.pipeline !== undefined) targets = targets.filter((t) => t.pipeline === values.pipeline);
  if (targets.length === 0) {
    process.stderr.write(
      `otelytics rules test: ${values.pipeline ? `no events pipeline "${values.pipeline}" with an analytics processor` : 'no events pipeline with an analytics processor in the config'}\n`,
    );
    return 1;
  }
  const inputs: { file: string; input: DryRunInput }[] = [];
  for (const file of values.input) {
    try {
      inputs.push({ file, input: decodeOtlpBody(fs.readFileSync(file), values.signal as 'traces' | 'logs' | undefined) });
    } catch (err) {
      process.stderr.write(`otelytics rules test: input ${file}: ${errorMessage(err)}\n`);
      return 1;
    }
  }
  const c = palette(format === 'pretty' && useColor(process.stdout, values['no-color']));
  let out = '';
  for (const t of targets) {
    for (const { file, input } of inputs) {
      const r = dryRun(input, t.analytics.config, t.privacy?.config);
      let kept = 0;
      for (const e of r.events) {
        if (!e.exported) continue;
        kept++;
        out += format === 'json' ? JSON.stringify({ pipeline: t.pipeline, input: file, event: e.exported }) + '\n' : eventLine(t.pipeline, e.exported, c) + '\n';
      }
      const dropped = r.events.length - kept;
      process.stderr.write(
        `pipeline ${t.pipeline} (${t.analytics.id}${t.privacy ? ` + ${t.privacy.id}` : ', no privacy processor'}): ${file}: ${r.items} ${r.signal === 'traces' ? 'spans' : 'log records'} → ${r.events.length} events made, ${kept} after privacy${dropped ? ` (${dropped} dropped)` : ''}\n`,
      );
    }
  }
  await new Promise<void>((resolve) => process.stdout.write(out, () => resolve()));
  return 0;
}
