/**
 * The rule playground's logic: an OTLP/JSON span or log record (or a whole request), an `analytics`
 * config and a `privacy` config in YAML in; validation errors with their YAML line, or the events
 * the rules make and what privacy does to them, out. Runs the processors' own schemas and code via
 * `src/dry_run.ts`; nothing touches the running gateway (the status extension runs this in a worker
 * thread with a time limit, so a runaway regular expression cannot stall the gateway).
 *
 * Without a `pseudonymization::key`, privacy uses {@link PLAYGROUND_KEY} with key id `playground`,
 * so playground pseudonyms never equal the gateway's (its key is never sent to the page).
 */
import YAML, { LineCounter, isMap, isSeq, type Document } from 'yaml';
import type { z } from 'zod';
import type { GatewayConfig } from '../../config/resolve.js';
import { decodeOtlpBody, dryRun, type DryRunResult } from '../../dry_run.js';
import { errorMessage } from '../../errors.js';
import { analyticsProcessorFactory } from '../../../processors/analytics/index.js';
import { privacyProcessorFactory } from '../../../processors/privacy/index.js';
import { ruleSchema } from '../../../processors/analytics/config.js';

/** Key the playground pseudonymises with when the privacy YAML gives none. Public on purpose. */
export const PLAYGROUND_KEY = 'otelytics-playground-key-not-the-gateway-key';
export const PLAYGROUND_KEY_ID = 'playground';

export interface PlaygroundRequest {
  /** OTLP/JSON: request, span, log record, or a list of spans or log records. */
  input: string;
  /** YAML: an analytics config, one rule (a map with `id`) or a list of rules. */
  analytics: string;
  /** YAML: a privacy config; empty: privacy is not run. */
  privacy: string;
}

export interface PlaygroundMessage {
  /** `::` path in the YAML (or the input), empty for the document itself. */
  path: string;
  message: string;
  /** 1-based line in the text, when known. */
  line?: number;
}

export interface PlaygroundResponse {
  ok: boolean;
  errors: { input: PlaygroundMessage[]; analytics: PlaygroundMessage[]; privacy: PlaygroundMessage[] };
  result?: DryRunResult;
  /** Whether privacy ran, and with the playground key. */
  privacy?: { ran: boolean; playgroundKey: boolean };
}

interface Parsed {
  value: unknown;
  doc?: Document.Parsed;
  lines?: LineCounter;
  /** Prefix of the zod path that the YAML text does not have (a wrapped rule or rule list). */
  strip: (string | number)[];
}

function parseYaml(text: string, out: PlaygroundMessage[]): Parsed | undefined {
  if (text.trim() === '') return { value: undefined, strip: [] };
  const lines = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) out.push({ path: '', message: e.message.split('\n')[0]!, line: e.linePos?.[0]?.line });
    return undefined;
  }
  return { value: doc.toJS(), doc, lines, strip: [] };
}

/** 1-based line of the YAML node at `path` (or its nearest ancestor). */
function lineOf(p: Parsed, path: (string | number)[]): number | undefined {
  if (!p.doc || !p.lines) return undefined;
  for (let n = path.length; n >= 0; n--) {
    const node = p.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return p.lines.linePos(node.range[0]).line;
    if (n === 0 && p.doc.contents && (isMap(p.doc.contents) || isSeq(p.doc.contents))) return p.lines.linePos(p.doc.contents.range![0]).line;
  }
  return undefined;
}

/**
 * A union's own message is "Invalid input"; the branch whose type matched says what is wrong
 * (e.g. `kind: servr` fails the enum branch, not the array one).
 */
function explainUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || !Array.isArray(issue.errors)) return issue;
  const branches = issue.errors.flat();
  const best = branches.find((b) => b.code !== 'invalid_type') ?? branches[0];
  return best ? explainUnion({ ...best, path: [...issue.path, ...best.path] } as z.core.$ZodIssue) : issue;
}

function zodMessages(p: Parsed, error: z.ZodError, out: PlaygroundMessage[]): void {
  for (const raw of error.issues) {
    const issue = explainUnion(raw);
    let path = issue.path.map((k) => (typeof k === 'number' ? k : String(k)));
    if (p.strip.length > 0 && p.strip.every((s, i) => path[i] === s)) path = path.slice(p.strip.length);
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    for (const k of keys) {
      const full = k === undefined ? path : [...path, k];
      let message = k === undefined ? issue.message.replace(/^Invalid input: /, '') : 'unknown key';
      if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) message = `is required (${issue.expected})`;
      out.push({ path: full.join('::'), message, line: lineOf(p, full) });
    }
  }
}

/** Runs one playground request. Never throws: every problem is a message in the response. */
export function runPlayground(req: PlaygroundRequest): PlaygroundResponse {
  const errors: PlaygroundResponse['errors'] = { input: [], analytics: [], privacy: [] };
  const a = parseYaml(req.analytics, errors.analytics);
  const pv = parseYaml(req.privacy, errors.privacy);
  let analyticsRaw: unknown = a?.value;
  if (a && Array.isArray(a.value)) {
    analyticsRaw = { rules: a.value };
    a.strip = ['rules'];
  } else if (a && a.value && typeof a.value === 'object' && 'id' in (a.value as object)) {
    analyticsRaw = { rules: [a.value] };
    a.strip = ['rules', 0];
  }
  let analytics;
  if (a) {
    const r = analyticsProcessorFactory.configSchema.safeParse(analyticsRaw ?? {});
    if (r.success) analytics = r.data;
    else zodMessages(a, r.error, errors.analytics);
  }
  let privacy;
  let playgroundKey = false;
  if (pv && pv.value !== undefined && pv.value !== null) {
    let raw = pv.value;
    if (typeof raw === 'object' && !Array.isArray(raw)) {
      const ps = (raw as { pseudonymization?: unknown }).pseudonymization;
      const hasKey = typeof ps === 'object' && ps !== null && typeof (ps as { key?: unknown }).key === 'string';
      if (!hasKey && (ps === undefined || ps === null || typeof ps === 'object')) {
        raw = { ...raw, pseudonymization: { ...((ps as object | null) ?? {}), key: PLAYGROUND_KEY, key_id: PLAYGROUND_KEY_ID } };
        playgroundKey = true;
      }
    }
    const r = privacyProcessorFactory.configSchema.safeParse(raw);
    if (r.success) privacy = r.data;
    else zodMessages(pv, r.error, errors.privacy);
  }
  let input;
  try {
    input = decodeOtlpBody(req.input);
  } catch (err) {
    errors.input.push({ path: '', message: errorMessage(err) });
  }
  const ok = errors.input.length + errors.analytics.length + errors.privacy.length === 0;
  if (!ok || !analytics || !input) return { ok: false, errors };
  return { ok: true, errors, result: dryRun(input, analytics, privacy), privacy: { ran: privacy !== undefined, playgroundKey } };
}

// ---------------------------------------------------------------------------------------------
// What the page starts with: the running gateway's analytics and privacy settings, as YAML
// ---------------------------------------------------------------------------------------------

/** The parts of `value` that differ from `defaults` (maps compared key by key, everything else whole). */
export function nonDefault(value: unknown, defaults: unknown): unknown {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(value) || !isObj(defaults)) return JSON.stringify(value) === JSON.stringify(defaults) ? undefined : value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const d = k in defaults ? nonDefault(v, defaults[k]) : v;
    if (d !== undefined && !(isObj(d) && Object.keys(d).length === 0 && isObj(defaults[k]))) out[k] = d;
  }
  return out;
}

export interface PlaygroundPipeline {
  pipeline: string;
  /** Processor ids the YAML comes from. */
  analytics_id: string;
  privacy_id?: string;
  analytics: string;
  privacy: string;
}

const yaml = (v: unknown) => (v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0) ? '' : YAML.stringify(v, { lineWidth: 0 }));

/**
 * For each events pipeline with an analytics processor: its analytics config and the first privacy
 * config after it, as YAML without the defaults, and without the pseudonymisation key and key id.
 */
export function playgroundPipelines(config: GatewayConfig): PlaygroundPipeline[] {
  const out: PlaygroundPipeline[] = [];
  const analyticsDefaults = analyticsProcessorFactory.configSchema.parse({}) as Record<string, unknown>;
  const privacyDefaults = privacyProcessorFactory.configSchema.safeParse({ pseudonymization: { key: PLAYGROUND_KEY } });
  for (const p of config.pipelines) {
    if (p.signal !== 'events') continue;
    const ai = p.processors.findIndex((id) => config.processors.get(id)?.factory.type === 'analytics');
    if (ai < 0) continue;
    const aid = p.processors[ai]!;
    const acfg = config.processors.get(aid)!.config as { rules: Record<string, unknown>[] } & Record<string, unknown>;
    const rules = acfg.rules.map((r) => ({ id: r.id, ...(nonDefault(r, ruleSchema.parse({ id: r.id })) as object) }));
    const rest = nonDefault({ ...acfg, rules: [] }, { ...analyticsDefaults, rules: [] }) as Record<string, unknown>;
    const pid = p.processors.slice(ai + 1).find((id) => config.processors.get(id)?.factory.type === 'privacy');
    let privacyYaml = '';
    if (pid) {
      const pcfg = structuredClone(config.processors.get(pid)!.config) as { pseudonymization: Record<string, unknown> };
      delete pcfg.pseudonymization.key;
      delete pcfg.pseudonymization.key_id;
      const defaults = (privacyDefaults.success ? structuredClone(privacyDefaults.data) : {}) as { pseudonymization?: Record<string, unknown> };
      delete defaults.pseudonymization?.key;
      delete defaults.pseudonymization?.key_id;
      privacyYaml = yaml(nonDefault(pcfg, defaults)) || '# the gateway runs privacy with its defaults\n{}\n';
    }
    out.push({ pipeline: p.id, analytics_id: aid, ...(pid ? { privacy_id: pid } : {}), analytics: yaml({ ...rest, rules }), privacy: privacyYaml });
  }
  return out;
}
