// TLS on every listener (otlp.grpc.tls, otlp.http.tls, prometheus.tls, status.tls), with a
// certificate made by the openssl CLI for this run: the real OTel SDK exporters push over TLS
// trusting that certificate, plaintext clients are refused, and with client_ca_file (gRPC,
// Prometheus) a client without a certificate is refused and one with a certificate is served.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as HttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { startTestDaemon } from '../test-support/daemon.js';
import type { TestDaemon } from '../test-support/daemon.js';
import { valueWith } from '../test-support/exposition.js';
import { rawExport } from '../test-support/grpc-client.js';
import { counterRequest } from '../test-support/otlp-proto.js';

/** A self-signed certificate for 127.0.0.1/localhost, or null when openssl is missing. */
function makeCertificate(dir: string): { cert: string; key: string } | null {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return { cert, key };
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
const files = makeCertificate(dir);
const skip = files === null ? 'openssl is not installed: cannot make a test certificate' : false;

class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Pushes one counter of 5 through a real SDK exporter and resolves with the export result. */
async function exportOnce(exporter: PushMetricExporter, name: string): Promise<ExportResult> {
  const reader = new ManualReader();
  const provider = new MeterProvider({ readers: [reader] });
  provider.getMeter('tls-e2e').createCounter(name).add(5);
  const { resourceMetrics } = await reader.collect();
  const result = await new Promise<ExportResult>((resolve) => exporter.export(resourceMetrics, resolve));
  await exporter.shutdown();
  await provider.shutdown();
  return result;
}

/** GET over HTTPS trusting `ca`; resolves with status and body, or rejects with the TLS error. */
function getTls(url: string, ca: Buffer, client?: { cert: Buffer; key: Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca, ...client }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** The daemon's listeners as TLS URLs (TestDaemon's bases say http://). */
function tlsUrls(daemon: TestDaemon): { grpc: string; otlpHttp: string; metrics: string; status: string } {
  const swap = (base: string): string => base.replace(/^http:/, 'https:');
  return { grpc: daemon.grpcTarget, otlpHttp: swap(daemon.otlpHttpBase), metrics: swap(daemon.metricsBase), status: swap(daemon.statusBase) };
}

describe('TLS on every listener', { skip }, () => {
  let daemon: TestDaemon;
  let ca: Buffer;
  before(async () => {
    ca = readFileSync(files!.cert);
    const tls = { certFile: files!.cert, keyFile: files!.key, clientCaFile: null };
    daemon = await startTestDaemon((config) => {
      config.otlp.grpc.tls = tls;
      config.otlp.http.tls = tls;
      config.prometheus.tls = tls;
      config.status.tls = tls;
    });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('the SDK exporters push over TLS trusting the certificate; the points are on /metrics over HTTPS', { timeout: 30_000 }, async () => {
    const urls = tlsUrls(daemon);
    const viaGrpc = await exportOnce(new GrpcMetricExporter({ url: `https://${urls.grpc}`, credentials: grpc.credentials.createSsl(ca) }), 'tls.grpc.pushes');
    assert.equal(viaGrpc.code, ExportResultCode.SUCCESS, String(viaGrpc.error));
    const viaHttp = await exportOnce(new HttpMetricExporter({ url: `${urls.otlpHttp}/v1/metrics`, httpAgentOptions: { ca } }), 'tls.http.pushes');
    assert.equal(viaHttp.code, ExportResultCode.SUCCESS, String(viaHttp.error));
    const scrape = await getTls(`${urls.metrics}/metrics`, ca);
    assert.equal(scrape.status, 200);
    assert.equal(valueWith(scrape.body, 'tls_grpc_pushes_total'), 5);
    assert.equal(valueWith(scrape.body, 'tls_http_pushes_total'), 5);
    const page = await getTls(`${urls.status}/`, ca);
    assert.equal(page.status, 200);
  });

  it('refuses plaintext clients on every TLS port', { timeout: 30_000 }, async () => {
    const plain = await rawExport(daemon.grpcTarget, counterRequest({ name: 'plain.grpc', value: 1 }), { deadlineMs: 3000 });
    assert.notEqual(plain.code, grpc.status.OK, 'plaintext gRPC to a TLS port');
    for (const base of [daemon.otlpHttpBase, daemon.metricsBase, daemon.statusBase]) {
      await assert.rejects(
        fetch(`${base}/`, { signal: AbortSignal.timeout(3000) }).then((res) => res.text()),
        `plaintext HTTP to ${base} fails`,
      );
    }
    // And a TLS client that does not trust the certificate is refused by its own check.
    await assert.rejects(getTls(`${tlsUrls(daemon).metrics}/metrics`, Buffer.from('')), /self[- ]signed|unable to verify|certificate/i);
  });
});

describe('TLS files that exist but cannot be used', { skip }, () => {
  for (const listener of ['otlp.grpc', 'otlp.http', 'prometheus', 'status'] as const) {
    it(`${listener}: a key that is not PEM fails the start with VIGIL_TLS_UNUSABLE naming the file`, { timeout: 15_000 }, async () => {
      const badKey = join(dir, 'not-a-key.pem');
      writeFileSync(badKey, 'not a PEM key\n');
      const tls = { certFile: files!.cert, keyFile: badKey, clientCaFile: null };
      await assert.rejects(
        startTestDaemon((config) => {
          if (listener === 'otlp.grpc') config.otlp.grpc.tls = tls;
          else if (listener === 'otlp.http') config.otlp.http.tls = tls;
          else if (listener === 'prometheus') config.prometheus.tls = tls;
          else config.status.tls = tls;
        }),
        (err: Error & { code?: string }) => err.code === 'VIGIL_TLS_UNUSABLE' && err.message.includes(badKey),
      );
    });
  }
});

describe('TLS with client_ca_file: client certificates required (gRPC, Prometheus)', { skip }, () => {
  let daemon: TestDaemon;
  let ca: Buffer;
  let key: Buffer;
  before(async () => {
    ca = readFileSync(files!.cert);
    key = readFileSync(files!.key);
    // The self-signed certificate is its own CA, so it also serves as the client's certificate.
    const tls = { certFile: files!.cert, keyFile: files!.key, clientCaFile: files!.cert };
    daemon = await startTestDaemon((config) => {
      config.otlp.grpc.tls = tls;
      config.prometheus.tls = tls;
    });
  });
  after(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gRPC: without a client certificate the export fails; with one it succeeds', { timeout: 30_000 }, async () => {
    const without = await exportOnce(new GrpcMetricExporter({ url: `https://${daemon.grpcTarget}`, credentials: grpc.credentials.createSsl(ca) }), 'mtls.refused');
    assert.equal(without.code, ExportResultCode.FAILED);
    const withCert = await exportOnce(new GrpcMetricExporter({ url: `https://${daemon.grpcTarget}`, credentials: grpc.credentials.createSsl(ca, key, ca) }), 'mtls.accepted');
    assert.equal(withCert.code, ExportResultCode.SUCCESS, String(withCert.error));
  });

  it('Prometheus: a scrape without a client certificate is refused; with one it is served', { timeout: 15_000 }, async () => {
    const url = `${tlsUrls(daemon).metrics}/metrics`;
    await assert.rejects(getTls(url, ca));
    const scrape = await getTls(url, ca, { cert: ca, key });
    assert.equal(scrape.status, 200);
    assert.equal(valueWith(scrape.body, 'mtls_accepted_total'), 5);
  });
});
