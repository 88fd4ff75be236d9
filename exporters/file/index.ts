/**
 * The `file` exporter: JSON Lines. Events are written one per line with the fields of the event
 * model; traces and logs one OTLP/JSON request per line (as the collector's file exporter does).
 * Writes are acknowledged once handed to the operating system. With `rotation`, the file is moved
 * aside as `<name>-<UTC timestamp><ext>` when it reaches `max_megabytes`, keeping `max_backups`.
 *
 * Delivery options are the shared exporter helper's (`timeout`, `sending_queue`, `retry_on_failure`,
 * `dead_letter`), with the sending queue off by default: a local write is fast, so a request is
 * acknowledged only once it is in the file. A failed write (disk full, file gone) is retryable; the
 * file is opened again before the next attempt.
 *
 * With `service::workers` > 1 every worker appends to the same file; a write is one append of
 * whole lines, which the kernel does not interleave with another process's on a local file system.
 * With `rotation`, a worker rotates when the file (written by all) reaches the size, and the
 * others follow to the new file before their next write.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ExporterFactory, Payload } from '../../src/component.js';
import { nonEmptyString, z } from '../../src/config/schema.js';
import { PermanentError, RetryableError } from '../../src/errors.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { exporterHelperShape, sendingQueueSchema } from '../../src/exporterhelper_config.js';
import { encodeLogsJson, encodeTracesJson } from '../../src/otlp/json.js';
import { workerShare } from '../../src/workers.js';

export const fileSchema = z.strictObject({
  path: nonEmptyString().describe('File to append to; its directory is created if missing. Required.'),
  rotation: z
    .strictObject({
      max_megabytes: z.number().positive().default(100).describe('Size in MiB at which the file is rotated. Default 100.'),
      max_backups: z.number().int().nonnegative().default(100).describe('Rotated files kept; older ones are deleted. 0 keeps all. Default 100.'),
    })
    .optional()
    .describe('Rotate by size. Omitted: never rotate.'),
  ...exporterHelperShape,
  sending_queue: sendingQueueSchema({ enabled: false }),
});

export type FileConfig = z.infer<typeof fileSchema>;

/** Serialises a payload as JSON Lines text (ends with a newline). */
export function toJsonLines(p: Payload): string {
  switch (p.signal) {
    case 'events': {
      let s = '';
      for (const e of p.data) s += JSON.stringify(e) + '\n';
      return s;
    }
    case 'traces':
      return encodeTracesJson(p.data) + '\n';
    case 'logs':
      return encodeLogsJson(p.data) + '\n';
    case 'metrics':
      throw new PermanentError('the file exporter does not write metrics');
  }
}

class FileExporter extends BaseExporter {
  private stream: fs.WriteStream | undefined;
  private size = 0;
  /** Several worker processes write the file (service::workers > 1). */
  private readonly shared = workerShare() > 1;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    settings: ConstructorParameters<typeof BaseExporter>[0],
    private readonly cfg: FileConfig,
  ) {
    super(settings, cfg);
  }

  override async start(): Promise<void> {
    fs.mkdirSync(path.dirname(path.resolve(this.cfg.path)), { recursive: true });
    await this.open();
  }

  private async open(): Promise<void> {
    this.size = fs.existsSync(this.cfg.path) ? fs.statSync(this.cfg.path).size : 0;
    const stream = fs.createWriteStream(this.cfg.path, { flags: 'a' });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    // A failed write rejects its send (retried by the exporter helper, which logs it); keep the event handled.
    stream.on('error', (err) => this.logger.debug({ err: err.message }, 'file write failed'));
    this.stream = stream;
  }

  protected send(p: Payload): Promise<void> {
    const text = toJsonLines(p);
    // Writes are serialised so that rotation never interleaves with a write.
    const next = this.chain.then(() => this.write(text));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async write(text: string): Promise<void> {
    // A stream that failed once stays failed: open the file again (it may be writable by now).
    if (this.stream && (this.stream.destroyed || this.stream.errored)) {
      this.stream = undefined;
      try {
        await this.open();
      } catch (err) {
        throw new RetryableError(`cannot open ${this.cfg.path}: ${(err as Error).message}`);
      }
    }
    const rot = this.cfg.rotation;
    // Workers of one gateway append to the same file (each write is one append); with rotation, one
    // of them may have moved it aside: follow it to the new file, and rotate by the file's own size.
    const shared = rot !== undefined && this.shared;
    if (shared && this.stream && !this.sameFile(this.stream)) {
      await this.close();
      try {
        await this.open();
      } catch (err) {
        throw new RetryableError(`cannot open ${this.cfg.path}: ${(err as Error).message}`);
      }
    }
    const stream = this.stream;
    if (!stream) throw new RetryableError('file exporter is not open');
    const bytes = Buffer.byteLength(text);
    await new Promise<void>((resolve, reject) => stream.write(text, (err) => (err ? reject(new RetryableError(`cannot write ${this.cfg.path}: ${err.message}`)) : resolve())));
    this.size += bytes;
    if (shared) this.size = fs.fstatSync((stream as unknown as { fd: number }).fd).size;
    if (rot && this.size >= rot.max_megabytes * 1024 * 1024) await this.rotate(rot.max_backups);
  }

  /** Whether `stream` still writes to the file at the configured path (not to one moved aside). */
  private sameFile(stream: fs.WriteStream): boolean {
    try {
      const fd = (stream as unknown as { fd: number | null }).fd;
      if (typeof fd !== 'number') return true;
      return fs.fstatSync(fd).ino === fs.statSync(this.cfg.path).ino;
    } catch {
      return false;
    }
  }

  private async rotate(maxBackups: number): Promise<void> {
    await this.close();
    // Another worker may have rotated it a moment ago.
    if (this.shared && !fs.existsSync(this.cfg.path)) return this.open();
    const { dir, name, ext } = path.parse(path.resolve(this.cfg.path));
    const stamp = new Date().toISOString().replace(/:/g, '-');
    fs.renameSync(this.cfg.path, path.join(dir, `${name}-${stamp}${ext}`));
    if (maxBackups > 0) {
      const backups = fs
        .readdirSync(dir)
        .filter((f) => f.startsWith(`${name}-`) && f.endsWith(ext) && f !== `${name}${ext}`)
        .sort();
      for (const old of backups.slice(0, Math.max(0, backups.length - maxBackups))) fs.rmSync(path.join(dir, old), { force: true });
    }
    await this.open();
  }

  private async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    if (stream) await new Promise<void>((resolve) => stream.end(() => resolve()));
  }

  override async shutdown(): Promise<void> {
    await this.chain;
    await this.close();
  }
}

export const fileExporterFactory: ExporterFactory<FileConfig> = {
  kind: 'exporter',
  type: 'file',
  description: 'Writes events (one per line), or OTLP/JSON traces and logs, to a JSON Lines file',
  configSchema: fileSchema,
  accepts: ['traces', 'logs', 'events'],
  mutatesData: false,
  create: (settings, config) => new FileExporter(settings, config),
};
