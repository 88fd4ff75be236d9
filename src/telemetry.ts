/**
 * Self-telemetry: Prometheus metrics with the collector's names (`otelcol_receiver_accepted_spans`,
 * `otelcol_exporter_sent_log_records`, ...) plus otelytics' event counters, served on
 * `service::telemetry::metrics::address` (default 127.0.0.1:8888) at `/metrics`.
 *
 * Events are log records by the event model, so `otelcol_*_log_records` metrics count them too.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import type { Signal } from './component.js';

/** The collector's item noun per signal, used in metric names. */
export const SIGNAL_ITEM: Record<Signal, string> = {
  traces: 'spans',
  logs: 'log_records',
  metrics: 'metric_points',
  events: 'log_records',
};

export class Telemetry {
  readonly registry = new client.Registry();
  private readonly counters = new Map<string, client.Counter<string>>();
  private readonly gauges = new Map<string, client.Gauge<string>>();
  private readonly histograms = new Map<string, client.Histogram<string>>();

  counter(name: string, help: string, labelNames: readonly string[]): client.Counter<string> {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = new client.Counter({ name, help, labelNames, registers: [this.registry] })));
    return c;
  }

  gauge(name: string, help: string, labelNames: readonly string[]): client.Gauge<string> {
    let g = this.gauges.get(name);
    if (!g) this.gauges.set(name, (g = new client.Gauge({ name, help, labelNames, registers: [this.registry] })));
    return g;
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: number[]): client.Histogram<string> {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = new client.Histogram({ name, help, labelNames, buckets, registers: [this.registry] })));
    return h;
  }

  /** Receiver counters: `otelcol_receiver_{accepted,refused}_<items>{receiver,transport}`. */
  receiverAccepted(receiver: string, transport: string, signal: Signal, n: number): void {
    this.counter(`otelcol_receiver_accepted_${SIGNAL_ITEM[signal]}`, `Items successfully pushed into the pipeline.`, ['receiver', 'transport']).inc({ receiver, transport }, n);
  }

  receiverRefused(receiver: string, transport: string, signal: Signal, n: number): void {
    this.counter(`otelcol_receiver_refused_${SIGNAL_ITEM[signal]}`, `Items that could not be pushed into the pipeline.`, ['receiver', 'transport']).inc({ receiver, transport }, n);
  }

  processorItems(processor: string, pipeline: string, direction: 'incoming' | 'outgoing', n: number): void {
    this.counter(`otelcol_processor_${direction}_items`, `Items ${direction === 'incoming' ? 'passed to' : 'emitted by'} the processor.`, ['processor', 'pipeline']).inc({ processor, pipeline }, n);
  }

  exporterSent(exporter: string, signal: Signal, n: number): void {
    this.counter(`otelcol_exporter_sent_${SIGNAL_ITEM[signal]}`, 'Items successfully sent to the destination.', ['exporter']).inc({ exporter }, n);
  }

  exporterSendFailed(exporter: string, signal: Signal, n: number): void {
    this.counter(`otelcol_exporter_send_failed_${SIGNAL_ITEM[signal]}`, 'Items that failed to be sent to the destination.', ['exporter']).inc({ exporter }, n);
  }

  eventsCreated(pipeline: string, n: number): void {
    this.counter('otelytics_events_created', 'Analytics events made from spans and log records.', ['pipeline']).inc({ pipeline }, n);
  }

  /** Events removed on purpose or lost to a permanent error; `reason` says which. */
  eventsDropped(component: string, reason: string, n: number): void {
    this.counter('otelytics_events_dropped', 'Analytics events dropped, by reason.', ['component', 'reason']).inc({ component, reason }, n);
  }

  /** Serves `/metrics` on `host:port`; resolves with the bound port. */
  async serve(host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
        this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(text);
          },
          (err: unknown) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(String(err));
          },
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found; metrics are at /metrics\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
}
