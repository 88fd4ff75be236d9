/**
 * The Kubernetes manifests in deploy/kubernetes, checked statically (no cluster here):
 * - k8s-validate (scripts/k8s-validate: k8s.io/api types from the Go module proxy, strict decoding)
 *   refuses unknown and duplicate fields and wrongly typed values;
 * - kubernetes-models (npm; JSON-schema validators generated from the Kubernetes OpenAPI spec)
 *   checks required fields and allowed values;
 * - cross-references: selectors match pod labels, Service and probe ports name container ports,
 *   the HPA and PDB target the gateway, and each ConfigMap's config passes `otelytics validate` and
 *   listens where the pod expects it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { resolveConfig } from '../../src/config/resolve.js';
import { parseEndpoint } from '../../src/config/schema.js';
import { loadRawConfig } from '../../src/config/sources.js';
import type { BearerTokenAuthConfig } from '../../src/extensions/bearertokenauth.js';
import type { OtlpReceiverConfig } from '../../receivers/otlp/config.js';
import { defaultRegistry } from '../../src/registry.js';
import { projectRoot } from '../helpers.js';

const dir = path.join(projectRoot, 'deploy', 'kubernetes');
const files = ['gateway', 'sidecar'].flatMap((d) => fs.readdirSync(path.join(dir, d)).filter((f) => f.endsWith('.yaml')).map((f) => path.join(dir, d, f)));
type Obj = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> };
const docs = (f: string) => YAML.parseAllDocuments(fs.readFileSync(f, 'utf8')).map((d) => d.toJS() as Obj).filter(Boolean);
const all = files.flatMap((f) => docs(f).map((o) => ({ file: path.relative(projectRoot, f), o })));
const find = (shape: string, kind: string, name?: string) =>
  all.filter(({ file, o }) => file.includes(`/${shape}/`) && o.kind === kind && (name === undefined || o.metadata.name === name)).map(({ o }) => o);

test('strict decoding into the k8s.io/api types (Go): every document is valid, a typo is not', () => {
  // The first run builds it; the script says so on stderr (passed through), and prints the binary's path.
  const bin = execFileSync('bash', [path.join(projectRoot, 'scripts', 'k8s-validate', 'install.sh')], { encoding: 'utf8', timeout: 10 * 60_000, stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const ok = spawnSync(bin, files, { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.equal(ok.stdout.trim().split('\n').length, all.length);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-k8s-'));
  try {
    const bad = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(bad, fs.readFileSync(path.join(dir, 'gateway', 'deployment.yaml'), 'utf8').replace('readinessProbe:', 'readynessProbe:'));
    const r = spawnSync(bin, [bad], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /unknown field "spec\.template\.spec\.containers\[0\]\.readynessProbe"/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('required fields and allowed values (kubernetes-models)', async () => {
  const models: Record<string, [string, string]> = {
    'v1/ConfigMap': ['kubernetes-models/v1/ConfigMap', 'ConfigMap'],
    'v1/Service': ['kubernetes-models/v1/Service', 'Service'],
    'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'Deployment'],
    'autoscaling/v2/HorizontalPodAutoscaler': ['kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', 'HorizontalPodAutoscaler'],
    'policy/v1/PodDisruptionBudget': ['kubernetes-models/policy/v1/PodDisruptionBudget', 'PodDisruptionBudget'],
  };
  for (const { file, o } of all) {
    const m = models[`${o.apiVersion}/${o.kind}`];
    assert.ok(m, `${file}: ${o.apiVersion} ${o.kind} has a model`);
    const mod = (await import(m[0])) as Record<string, new (o: unknown) => { validate(): void }>;
    assert.doesNotThrow(() => new mod[m[1]]!(o).validate(), `${file}: ${o.kind} ${o.metadata.name}`);
  }
  const { Deployment } = (await import('kubernetes-models/apps/v1/Deployment')) as { Deployment: new (o: unknown) => { validate(): void } };
  const broken = structuredClone(find('gateway', 'Deployment')[0]!);
  broken.spec.template.spec.containers[0].ports[0].protocol = 'TPC';
  assert.throws(() => new Deployment(broken).validate(), /protocol/);
});

function podOf(d: Obj) {
  const spec = d.spec.template.spec;
  return { labels: d.spec.template.metadata.labels as Record<string, string>, spec, containers: [...(spec.initContainers ?? []), ...spec.containers] as any[] };
}
const matches = (sel: Record<string, string>, labels: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);

/** The otelytics container's config from its ConfigMap, validated with the environment the pod gives it. */
function otelyticsConfig(shape: string) {
  const d = find(shape, 'Deployment')[0]!;
  const pod = podOf(d);
  const c = pod.containers.find((x) => String(x.image).startsWith('otelytics'))!;
  const volume = pod.spec.volumes.find((v: any) => c.volumeMounts.some((m: any) => m.name === v.name && m.mountPath === '/etc/otelytics'));
  const cm = find(shape, 'ConfigMap', volume.configMap.name)[0];
  assert.ok(cm, `${shape}: the ConfigMap ${volume.configMap.name} is in the manifests`);
  const cfgPath = c.args[c.args.indexOf('--config') + 1] as string;
  assert.equal(path.posix.dirname(cfgPath), '/etc/otelytics');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-k8s-'));
  try {
    const file = path.join(tmp, path.posix.basename(cfgPath));
    fs.writeFileSync(file, cm!.data![path.posix.basename(cfgPath)]!);
    const env: NodeJS.ProcessEnv = {};
    for (const e of c.env) env[e.name] = e.value ?? `secret-from-${e.valueFrom.secretKeyRef.name}-0123456789abcdef0123456789`;
    return { pod, container: c, config: resolveConfig(loadRawConfig([file], [], env), defaultRegistry()) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

test('gateway: selectors, ports, probes, autoscaler and config fit together', () => {
  const d = find('gateway', 'Deployment')[0]!;
  const { pod, container, config } = otelyticsConfig('gateway');
  assert.ok(matches(d.spec.selector.matchLabels, pod.labels));
  const portNames = new Map(container.ports.map((p: any) => [p.name, p.containerPort]));
  const svc = find('gateway', 'Service')[0]!;
  assert.ok(matches(svc.spec.selector, pod.labels), 'the Service selects the gateway pods');
  for (const p of svc.spec.ports) assert.ok(portNames.has(p.targetPort), `Service port ${p.name} targets a container port`);
  const hpa = find('gateway', 'HorizontalPodAutoscaler')[0]!;
  assert.deepEqual([hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name], ['Deployment', d.metadata.name]);
  assert.ok(container.resources.requests.cpu, 'CPU requests are set (the HPA needs them)');
  assert.ok(matches(find('gateway', 'PodDisruptionBudget')[0]!.spec.selector.matchLabels, pod.labels));

  const otlp = config.receivers.get('otlp')!.config as { protocols: { http: { endpoint: string }; grpc: { endpoint: string } } };
  assert.equal(parseEndpoint(otlp.protocols.http.endpoint)!.port, portNames.get('otlp-http'));
  assert.equal(parseEndpoint(otlp.protocols.grpc.endpoint)!.port, portNames.get('otlp-grpc'));
  assert.equal(parseEndpoint(otlp.protocols.http.endpoint)!.host, '0.0.0.0', 'reachable through the Service');
  checkProbes(container, config);
  assert.equal(parseEndpoint(config.service.telemetry.metrics.address)!.port, portNames.get('metrics'));
});

/** The Secret volume mounted by `container` whose mount holds `file`, if any. */
function secretHolding(pod: ReturnType<typeof podOf>, container: any, file: string): string | undefined {
  const mount = container.volumeMounts.find((m: any) => file.startsWith(`${m.mountPath}/`) && !m.subPath);
  const volume = mount && pod.spec.volumes.find((v: any) => v.name === mount.name);
  return volume?.secret?.secretName;
}

test('gateway: OTLP over TLS with bearer tokens, certificate and tokens from Secrets (updated without a restart), metrics over TLS with a token', () => {
  const { pod, container, config } = otelyticsConfig('gateway');
  const otlp = config.receivers.get('otlp')!.config as OtlpReceiverConfig;
  for (const protocol of ['http', 'grpc'] as const) {
    const p = otlp.protocols[protocol]!;
    assert.ok(p.tls, `${protocol}: TLS`);
    assert.ok(p.tls.reload_interval > 0, `${protocol}: a renewed certificate is taken without a restart`);
    assert.equal(secretHolding(pod, container, p.tls.cert_file!), 'otelytics-tls', `${protocol}: the certificate from the Secret`);
    assert.equal(secretHolding(pod, container, p.tls.key_file!), 'otelytics-tls');
    assert.equal(p.auth?.authenticator, 'bearertokenauth', `${protocol}: every request needs a token`);
  }
  const bearer = config.extensions.get('bearertokenauth')!.config as BearerTokenAuthConfig;
  assert.ok(config.service.extensions.includes('bearertokenauth'));
  assert.equal(secretHolding(pod, container, bearer.filename!), 'otelytics-tokens', 'the token file from a Secret volume (no subPath, so updates reach it)');
  const metrics = config.service.telemetry.metrics;
  assert.equal(parseEndpoint(metrics.address)!.host, '0.0.0.0', 'Prometheus scrapes the pod IP');
  assert.equal(secretHolding(pod, container, metrics.tls!.cert_file!), 'otelytics-tls');
  assert.ok(metrics.auth?.bearer_token.startsWith('secret-from-otelytics-'), 'the metrics token from a Secret');
  assert.equal(pod.spec.containers.length, 1);
  assert.equal(find('gateway', 'Deployment')[0]!.spec.template.metadata.annotations['prometheus.io/scheme'], 'https');
  const analytics = config.processors.get('analytics')!.config as { from_context: Record<string, string> };
  assert.deepEqual(analytics.from_context, { tenant: 'auth.subject' });
});

test('sidecar: a native sidecar the app reaches on localhost, probes on the health_check extension', () => {
  const { pod, container, config } = otelyticsConfig('sidecar');
  assert.equal(container.restartPolicy, 'Always', 'an init container that keeps running: a native sidecar');
  const otlp = config.receivers.get('otlp')!.config as { protocols: { http: { endpoint: string } } };
  const ep = parseEndpoint(otlp.protocols.http.endpoint)!;
  assert.equal(ep.host, '127.0.0.1', 'only the pod itself can send');
  const protocols = (config.receivers.get('otlp')!.config as OtlpReceiverConfig).protocols;
  for (const p of [protocols.http, protocols.grpc]) {
    if (!p) continue;
    assert.equal(p.tls, undefined, 'the app reaches its sidecar over loopback, without TLS');
    assert.equal(p.auth, undefined, 'and without a token');
    assert.equal(parseEndpoint(p.endpoint)!.host, '127.0.0.1');
  }
  const app = pod.spec.containers.find((c: any) => c.env?.some((e: any) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT'));
  assert.equal(new URL(app.env.find((e: any) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT').value).port, String(ep.port));
  checkProbes(container, config);
});

test('both shapes run as non-root with a read-only root filesystem and the key from a Secret', () => {
  for (const shape of ['gateway', 'sidecar']) {
    const { pod, container } = otelyticsConfig(shape);
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    const key = container.env.find((e: any) => e.name === 'OTELYTICS_PSEUDONYM_KEY');
    assert.ok(key?.valueFrom?.secretKeyRef, `${shape}: the pseudonymisation key comes from a Secret`);
  }
});

function checkProbes(container: any, config: ReturnType<typeof resolveConfig>): void {
  const health = config.extensions.get('health_check')!.config as { endpoint: string; ready_path: string; live_path: string };
  const ep = parseEndpoint(health.endpoint)!;
  assert.equal(ep.host, '0.0.0.0', 'kubelet probes reach the pod IP');
  const port = (p: string | number) => (typeof p === 'number' ? p : container.ports.find((x: any) => x.name === p)?.containerPort);
  for (const [probe, want] of [['readinessProbe', health.ready_path], ['startupProbe', health.ready_path], ['livenessProbe', health.live_path]] as const) {
    assert.equal(container[probe].httpGet.path, want, probe);
    assert.equal(port(container[probe].httpGet.port), ep.port, `${probe} port`);
  }
  assert.ok(config.service.extensions.includes('status'));
  const status = config.extensions.get('status')!.config as { endpoint: string };
  assert.equal(parseEndpoint(status.endpoint)!.host, '127.0.0.1', 'the status page only through kubectl port-forward');
}
