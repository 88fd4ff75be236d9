/**
 * The `privacy` processor: pseudonymises identifiers with a keyed HMAC, strips personal data found
 * by key and by value, and honours consent (deny by default) and governance levels, before any
 * event, span or log record leaves the gateway. Works on `events`, `traces` and `logs` pipelines;
 * gives what it takes. Everything (key globs, detectors, pseudonymiser) is compiled once at
 * creation; the hot path does no parsing. See README.md for the options and what it cannot
 * detect, ./events.ts and ./otlp.ts for what is treated where, ./scrub.ts for the value walk.
 *
 * Metrics: `otelytics_privacy_hits{processor,pipeline,detector,action}` (values, keys and fields
 * treated), `otelytics_privacy_items{processor,pipeline,signal,reason,action}` (items dropped or
 * anonymised), and dropped events also in `otelytics_events_dropped{reason="privacy_consent"|
 * "privacy_level"}`. Neither metrics nor logs ever carry a treated value.
 */
import type { Logger } from 'pino';
import type { Consumer, Payload, ProcessorFactory } from '../../src/component.js';
import type { Telemetry } from '../../src/telemetry.js';
import { Accounting } from './accounting.js';
import { DEVELOPMENT_PSEUDONYM_KEY, SHORT_KEY_BYTES, privacySchema, pseudonymizationUses, type PrivacyConfig } from './config.js';
import { EventPolicy } from './events.js';
import { OtlpPolicy } from './otlp.js';
import { createPseudonymizer, type Pseudonymizer } from './pseudonym.js';
import { Scrubber } from './scrub.js';

export { privacySchema, type PrivacyConfig } from './config.js';

/** The parts a `privacy` processor is made of, compiled from its config (also used by the benchmark and tests). */
export interface CompiledPrivacy {
  events: EventPolicy;
  otlp: OtlpPolicy;
  accounting: Accounting;
  /** Key id of the pseudonymiser, or undefined without a key. */
  keyId: string | undefined;
}

/**
 * Compiles a validated config.
 * @throws Error when the pseudonymiser cannot be made (the schema rules those cases out).
 */
export function compilePrivacy(cfg: PrivacyConfig, telemetry: Telemetry, processor: string, pipeline: string): CompiledPrivacy {
  const accounting = new Accounting(telemetry, processor, pipeline);
  const p = cfg.pseudonymization;
  let pseudo: Pseudonymizer | undefined;
  if (p.key !== undefined && p.key.trim() !== '') {
    pseudo = createPseudonymizer({ key: p.key, encoding: p.encoding, bytes: p.bytes, cacheSize: p.cache_size, ...(p.key_id !== undefined ? { keyId: p.key_id } : {}) });
  }
  const fn =
    pseudo ??
    ((): string => {
      throw new Error('privacy: pseudonymisation is off (no key), yet a value was to be pseudonymised');
    });
  const scrubber = new Scrubber(cfg, fn, accounting);
  return { events: new EventPolicy(cfg, scrubber, accounting), otlp: new OtlpPolicy(cfg, scrubber, accounting), accounting, keyId: pseudo?.keyId };
}

class PrivacyProcessor {
  private readonly compiled: CompiledPrivacy;

  constructor(
    id: string,
    private readonly cfg: PrivacyConfig,
    private readonly next: Consumer,
    private readonly logger: Logger,
    telemetry: Telemetry,
    pipeline: string,
  ) {
    this.compiled = compilePrivacy(cfg, telemetry, id, pipeline);
  }

  async start(): Promise<void> {
    const key = this.cfg.pseudonymization.key;
    if (key === undefined || pseudonymizationUses(this.cfg).length === 0) return;
    if (key === DEVELOPMENT_PSEUDONYM_KEY) {
      this.logger.warn(
        { key_id: this.compiled.keyId },
        '!!! privacy: pseudonymisation uses the PUBLIC DEVELOPMENT KEY from config.example.yaml. Anyone can recompute these pseudonyms. ' +
          'Set OTELYTICS_PSEUDONYM_KEY (or processors::<id>::pseudonymization::key) to a secret of 32+ random bytes, e.g. `openssl rand -base64 32`, before real data flows. !!!',
      );
    } else if (Buffer.byteLength(key, 'utf8') < SHORT_KEY_BYTES) {
      this.logger.warn({ key_id: this.compiled.keyId }, `privacy: the pseudonymisation key is shorter than ${SHORT_KEY_BYTES} bytes; use 32+ random bytes`);
    }
  }

  async shutdown(): Promise<void> {}

  async consume(p: Payload): Promise<void> {
    const c = this.compiled;
    let left: number;
    try {
      switch (p.signal) {
        case 'events':
          left = c.events.process(p.data).length;
          break;
        case 'traces':
          left = c.otlp.traces(p.data);
          break;
        case 'logs':
          left = c.otlp.logs(p.data);
          break;
        default:
          left = 1; // metrics: not accepted by the factory, passed on as they are
      }
    } finally {
      c.accounting.flush();
    }
    if (left > 0) await this.next.consume(p);
  }
}

export const privacyProcessorFactory: ProcessorFactory<PrivacyConfig> = {
  kind: 'processor',
  type: 'privacy',
  description: 'Pseudonymises identifiers (keyed HMAC), strips PII by key and by value, honours consent and privacy levels',
  configSchema: privacySchema,
  accepts: ['events', 'traces', 'logs'],
  output: (s) => s,
  mutatesData: true,
  create: (settings, config, next) => new PrivacyProcessor(settings.id, config, next, settings.logger, settings.telemetry, settings.pipeline),
};
