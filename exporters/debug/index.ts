/**
 * The `debug` exporter: prints what passes to stdout, like the collector's `debug` exporter.
 * `basic`: one summary line per batch; `normal`: one line per event, span or log record;
 * `detailed`: the full JSON of each. It prints data as the pipeline gives it, so placed after
 * `privacy` it never shows values that `privacy` removes.
 */
import type { ExporterFactory, Payload } from '../../src/component.js';
import { itemCount } from '../../src/component.js';
import { z } from '../../src/config/schema.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { exporterHelperShape, sendingQueueSchema } from '../../src/exporterhelper_config.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { toJsonLines } from '../file/index.js';

export const debugSchema = z.strictObject({
  verbosity: z.enum(['basic', 'normal', 'detailed']).default('basic').describe('basic: a summary line per batch; normal: a line per item; detailed: full JSON. Default basic.'),
  // The shared delivery options; printing is immediate, so the sending queue is off by default.
  ...exporterHelperShape,
  sending_queue: sendingQueueSchema({ enabled: false }),
});

export type DebugConfig = z.infer<typeof debugSchema>;

function eventLine(e: AnalyticsEvent): string {
  const props = Object.entries(e.properties)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const who = e.user_id ? ` user=${e.user_id}` : e.session_id ? ` session=${e.session_id}` : '';
  return `${e.name}${who} ${props}`.trimEnd();
}

/** The text the debug exporter prints for a payload at a verbosity. */
export function formatDebug(p: Payload, verbosity: DebugConfig['verbosity']): string {
  if (verbosity === 'basic' || p.signal === 'metrics') return `${p.signal}: ${itemCount(p)} ${p.signal === 'traces' ? 'spans' : p.signal === 'logs' ? 'log records' : p.signal === 'metrics' ? 'data points' : 'events'}\n`;
  if (verbosity === 'detailed') return toJsonLines(p);
  switch (p.signal) {
    case 'events':
      return p.data.map((e) => eventLine(e) + '\n').join('');
    case 'traces':
      return p.data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => `span ${s.name} trace_id=${s.traceId} span_id=${s.spanId}\n`))).join('');
    case 'logs':
      return p.data.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((r) => `log ${r.eventName || r.severityText} trace_id=${r.traceId}\n`))).join('');
  }
}

class DebugExporter extends BaseExporter {
  constructor(
    settings: ConstructorParameters<typeof BaseExporter>[0],
    private readonly cfg: DebugConfig,
  ) {
    super(settings, cfg);
  }

  protected async send(p: Payload): Promise<void> {
    const text = formatDebug(p, this.cfg.verbosity);
    await new Promise<void>((resolve) => (process.stdout.write(text) ? resolve() : process.stdout.once('drain', () => resolve())));
  }
}

export const debugExporterFactory: ExporterFactory<DebugConfig> = {
  kind: 'exporter',
  type: 'debug',
  description: 'Prints events, spans and log records to stdout (basic, normal or detailed)',
  configSchema: debugSchema,
  accepts: ['traces', 'logs', 'metrics', 'events'],
  mutatesData: false,
  create: (settings, config) => new DebugExporter(settings, config),
};
