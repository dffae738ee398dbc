// OTLP bearer-token auth end to end (otlp.auth.tokens): a missing or wrong token is refused over
// gRPC (UNAUTHENTICATED) and HTTP (401 + WWW-Authenticate) and counted; a good token is accepted,
// the real SDK exporters push with one, and each tenant's series carry its `tenant` label.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as HttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { samplesWith, valueWith } from '../../test-support/exposition.js';
import { rawExport } from '../../test-support/grpc-client.js';
import { counterRequest } from '../../test-support/otlp-proto.js';

const TOKEN_A = 'token-of-team-a-0123456789';
const TOKEN_B = 'token-of-team-b-0123456789';
const TOKEN_PLAIN = 'token-without-tenant-01234';

/** Counter values from one scrape, for before/after differences. */
async function counters(daemon: TestDaemon): Promise<(name: string, labels: Record<string, string>) => number> {
  const text = await scrape(daemon.metricsBase);
  return (name, labels) => valueWith(text, name, labels) ?? 0;
}

function postMetrics(daemon: TestDaemon, body: Buffer, headers: Record<string, string>): Promise<Response> {
  return fetch(`${daemon.otlpHttpBase}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', ...headers }, body: new Uint8Array(body) });
}

/** Collects by hand, so the result of one export can be seen. */
class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Pushes one counter of 5 through a real SDK exporter and resolves with the export result. */
async function exportOnce(exporter: PushMetricExporter, name: string): Promise<ExportResult> {
  const reader = new ManualReader();
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'sdk-auth' }), readers: [reader] });
  provider.getMeter('auth-e2e').createCounter(name).add(5);
  const { resourceMetrics } = await reader.collect();
  const result = await new Promise<ExportResult>((resolve) => exporter.export(resourceMetrics, resolve));
  await exporter.shutdown();
  await provider.shutdown();
  return result;
}

describe('OTLP auth on', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon((config) => {
      config.otlp.auth.tokens = [
        { token: TOKEN_A, tenant: 'a' },
        { token: TOKEN_B, tenant: 'b' },
        { token: TOKEN_PLAIN, tenant: '' },
      ];
    });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('gRPC: a missing, malformed or wrong token is UNAUTHENTICATED and counted', { timeout: 15_000 }, async () => {
    const before = await counters(daemon);
    const body = counterRequest({ name: 'refused.grpc', value: 1 });
    const cases: Array<Record<string, string>> = [{}, { authorization: `Basic ${TOKEN_A}` }, { authorization: 'Bearer not-a-configured-token-00' }, { authorization: `Bearer ${TOKEN_A}x` }];
    for (const metadata of cases) {
      const answer = await rawExport(daemon.grpcTarget, body, { metadata });
      assert.equal(answer.code, grpc.status.UNAUTHENTICATED, `${JSON.stringify(metadata)}: ${answer.details}`);
      assert.match(answer.details, /otlp\.auth\.tokens/);
    }
    const now = await counters(daemon);
    const reason = { signal: 'metrics', transport: 'grpc', reason: 'unauthenticated' };
    assert.equal(now('vigil_otlp_requests_rejected_total', reason) - before('vigil_otlp_requests_rejected_total', reason), cases.length);
    const code = { signal: 'metrics', transport: 'grpc', code: 'UNAUTHENTICATED' };
    assert.equal(now('vigil_otlp_requests_total', code) - before('vigil_otlp_requests_total', code), cases.length);
    assert.equal(samplesWith(await scrape(daemon.metricsBase), 'refused_grpc_total').length, 0, 'nothing refused reached the store');
  });

  it('HTTP: a missing or wrong token is 401 with WWW-Authenticate: Bearer, before the body or media type is judged', { timeout: 15_000 }, async () => {
    const before = await counters(daemon);
    const body = counterRequest({ name: 'refused.http', value: 1 });
    const answers = [
      await postMetrics(daemon, body, {}),
      await postMetrics(daemon, body, { authorization: 'Bearer wrong-token-0123456789' }),
      // Auth comes first: an unsupported media type without a token is still 401, not 415.
      await fetch(`${daemon.otlpHttpBase}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }),
    ];
    for (const res of answers) {
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      await res.arrayBuffer();
    }
    const now = await counters(daemon);
    const reason = { signal: 'metrics', transport: 'http', reason: 'unauthenticated' };
    assert.equal(now('vigil_otlp_requests_rejected_total', reason) - before('vigil_otlp_requests_rejected_total', reason), answers.length);
    const code = { signal: 'metrics', transport: 'http', code: '401' };
    assert.equal(now('vigil_otlp_requests_total', code) - before('vigil_otlp_requests_total', code), answers.length);
    assert.equal(samplesWith(await scrape(daemon.metricsBase), 'refused_http_total').length, 0, 'nothing refused reached the store');
  });

  it('two tenants pushing the same series get two series, tenant="a" and tenant="b"', { timeout: 15_000 }, async () => {
    const same = { name: 'shared.requests', attributes: { route: '/x' }, resource: { 'service.name': 'shared' } };
    const viaGrpc = await rawExport(daemon.grpcTarget, counterRequest({ ...same, value: 3 }), { metadata: { authorization: `Bearer ${TOKEN_A}` } });
    assert.equal(viaGrpc.code, grpc.status.OK, viaGrpc.details);
    const viaHttp = await postMetrics(daemon, counterRequest({ ...same, value: 4 }), { authorization: `bearer ${TOKEN_B}` });
    assert.equal(viaHttp.status, 200, await viaHttp.text());
    const plain = await postMetrics(daemon, counterRequest({ ...same, value: 5 }), { authorization: `Bearer ${TOKEN_PLAIN}` });
    assert.equal(plain.status, 200, await plain.text());
    // A point attribute cannot claim another tenant: the token's tenant wins.
    const impostor = await rawExport(daemon.grpcTarget, counterRequest({ ...same, attributes: { route: '/x', tenant: 'b' }, value: 7 }), {
      metadata: { authorization: `Bearer ${TOKEN_A}` },
    });
    assert.equal(impostor.code, grpc.status.OK, impostor.details);

    const text = await scrape(daemon.metricsBase);
    const series = samplesWith(text, 'shared_requests_total', { route: '/x', job: 'shared' });
    const byTenant = new Map<string | undefined, number>();
    for (const s of series) byTenant.set(s.labels['tenant'], (byTenant.get(s.labels['tenant']) ?? 0) + s.value);
    assert.equal(byTenant.get('a'), 10, `tenant a: ${series.map((s) => s.line).join(' | ')}`);
    assert.equal(byTenant.get('b'), 4);
    assert.equal(byTenant.get(undefined), 5, 'a token without a tenant adds no label');
    assert.equal(byTenant.size, 3);
  });

  it('traces: span series carry the tenant too', { timeout: 15_000 }, async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const request = {
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'traced' } }] },
        scopeSpans: [{ spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'GET /t', kind: 2, startTimeUnixNano: String(now - 1_000_000n), endTimeUnixNano: String(now) }] }],
      }],
    };
    const res = await fetch(`${daemon.otlpHttpBase}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN_B}` }, body: JSON.stringify(request) });
    assert.equal(res.status, 200, await res.text());
    const text = await scrape(daemon.metricsBase);
    assert.equal(valueWith(text, 'traces_span_metrics_calls_total', { service_name: 'traced', tenant: 'b' }), 1);
  });

  it('the real SDK exporters push with a token (gRPC metadata, HTTP headers); without one they fail', { timeout: 30_000 }, async () => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${TOKEN_A}`);
    const grpcOk = await exportOnce(new GrpcMetricExporter({ url: `http://${daemon.grpcTarget}`, metadata, temporalityPreference: AggregationTemporality.CUMULATIVE }), 'sdk.grpc.pushes');
    assert.equal(grpcOk.code, ExportResultCode.SUCCESS, String(grpcOk.error));
    const httpOk = await exportOnce(new HttpMetricExporter({ url: `${daemon.otlpHttpBase}/v1/metrics`, headers: { authorization: `Bearer ${TOKEN_B}` } }), 'sdk.http.pushes');
    assert.equal(httpOk.code, ExportResultCode.SUCCESS, String(httpOk.error));
    const httpRefused = await exportOnce(new HttpMetricExporter({ url: `${daemon.otlpHttpBase}/v1/metrics` }), 'sdk.http.refused');
    assert.equal(httpRefused.code, ExportResultCode.FAILED);
    const text = await scrape(daemon.metricsBase);
    assert.equal(valueWith(text, 'sdk_grpc_pushes_total', { tenant: 'a' }), 5);
    assert.equal(valueWith(text, 'sdk_http_pushes_total', { tenant: 'b' }), 5);
    assert.equal(samplesWith(text, 'sdk_http_refused_total').length, 0);
  });
});

describe('OTLP auth off (no tokens, the default)', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon();
  });
  after(async () => {
    await daemon?.stop();
  });

  it('accepts requests with or without an Authorization header, and adds no tenant label', { timeout: 15_000 }, async () => {
    const bare = await rawExport(daemon.grpcTarget, counterRequest({ name: 'open.requests', value: 1 }));
    assert.equal(bare.code, grpc.status.OK, bare.details);
    const withHeader = await postMetrics(daemon, counterRequest({ name: 'open.requests', value: 2 }), { authorization: 'Bearer anything-at-all' });
    assert.equal(withHeader.status, 200);
    const text = await scrape(daemon.metricsBase);
    const series = samplesWith(text, 'open_requests_total');
    assert.equal(series.length, 1);
    assert.equal(series[0]!.value, 3);
    assert.equal(series[0]!.labels['tenant'], undefined);
    assert.equal(samplesWith(text, 'vigil_otlp_requests_rejected_total', { reason: 'unauthenticated' }).length, 0);
  });
});
