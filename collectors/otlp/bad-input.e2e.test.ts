// Bad OTLP/gRPC input end to end: every kind of refusal gets the documented status code, is
// counted by reason and code, and never disturbs the next good request.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { status } from '@grpc/grpc-js';
import { scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { valueWith } from '../../test-support/exposition.js';
import { rawExport } from '../../test-support/grpc-client.js';
import type { RawExportResult } from '../../test-support/grpc-client.js';
import { attributes, counterRequest, decodePartialSuccess, encodeMetricsRequest, otlpMetricsTypes, statusDetails } from '../../test-support/otlp-proto.js';
import { pseudoRandomBytes, unknownBytesField } from '../../test-support/bytes.js';

const MAX_MESSAGE_BYTES = 1024 * 1024;
const MAX_INFLIGHT_BYTES = 8 * 1024;
const GRPC = { signal: 'metrics', transport: 'grpc' };

describe('OTLP/gRPC bad input', () => {
  let daemon: TestDaemon;
  let goodSent = 0;

  before(async () => {
    daemon = await startTestDaemon((config) => {
      config.otlp.grpc.maxMessageBytes = MAX_MESSAGE_BYTES;
      config.otlp.maxInflightBytes = MAX_INFLIGHT_BYTES;
    });
  });
  after(async () => {
    await daemon?.stop();
  });

  /** Sends one good delta point and checks it is acknowledged and visible on /metrics. */
  async function assertStillHealthy(context: string): Promise<void> {
    const answer = await rawExport(daemon.grpcTarget, counterRequest({ name: 'good.requests', value: 1, attributes: { stream: 'probe' } }));
    assert.equal(answer.code, status.OK, `good request after ${context}: ${answer.details}`);
    goodSent++;
    const text = await scrape(daemon.metricsBase);
    assert.equal(valueWith(text, 'good_requests_total', { stream: 'probe' }), goodSent, `good point after ${context} is on /metrics`);
  }

  /** Counter values from one scrape, for before/after differences. */
  async function counters(): Promise<(name: string, labels: Record<string, string>) => number> {
    const text = await scrape(daemon.metricsBase);
    return (name, labels) => valueWith(text, name, labels) ?? 0;
  }

  /** Sends `payloads`, checks each answer with `check`, then checks the counters moved by exactly one per request. */
  async function refuseEach(
    what: string,
    payloads: Buffer[],
    expected: { code: status; reason: string },
    check: (answer: RawExportResult) => void,
    options: { gzip?: boolean } = {},
  ): Promise<void> {
    const before = await counters();
    for (const [i, payload] of payloads.entries()) {
      const answer = await rawExport(daemon.grpcTarget, payload, { gzip: options.gzip === true, deadlineMs: 20_000 });
      assert.equal(answer.code, expected.code, `${what} #${i}: expected ${status[expected.code]}, got ${status[answer.code]} (${answer.details})`);
      assert.ok(answer.details.length > 0, `${what} #${i}: the answer has a message`);
      check(answer);
      await assertStillHealthy(`${what} #${i}`);
    }
    const now = await counters();
    const n = payloads.length;
    const reasonLabels = { ...GRPC, reason: expected.reason };
    assert.equal(now('vigil_otlp_requests_rejected_total', reasonLabels) - before('vigil_otlp_requests_rejected_total', reasonLabels), n, `rejected_total{reason="${expected.reason}"}`);
    const codeLabels = { ...GRPC, code: status[expected.code]! };
    assert.equal(now('vigil_otlp_requests_total', codeLabels) - before('vigil_otlp_requests_total', codeLabels), n, `requests_total{code="${status[expected.code]}"}`);
    const okLabels = { ...GRPC, code: 'OK' };
    assert.equal(now('vigil_otlp_requests_total', okLabels) - before('vigil_otlp_requests_total', okLabels), n, 'one OK per good probe');
  }

  const noRetryInfo = (answer: RawExportResult): void => {
    assert.equal(statusDetails(answer.metadata)?.retryDelayMs, undefined, 'a non-retryable answer carries no RetryInfo');
  };

  it('answers OK to a good request before any bad one', { timeout: 15_000 }, async () => {
    await assertStillHealthy('start');
  });

  it('answers random bytes with INVALID_ARGUMENT', { timeout: 30_000 }, async () => {
    const { request } = otlpMetricsTypes();
    // Only inputs the protobufjs oracle also refuses: random bytes can happen to be valid protobuf.
    const payloads: Buffer[] = [];
    for (let seed = 1; payloads.length < 5; seed++) {
      const bytes = pseudoRandomBytes(seed, 16 + ((seed * 37) % 400));
      try {
        request.decode(bytes);
      } catch {
        payloads.push(bytes);
      }
    }
    await refuseEach('random bytes', payloads, { code: status.INVALID_ARGUMENT, reason: 'malformed' }, noRetryInfo);
  });

  it('answers a valid request truncated at several offsets with INVALID_ARGUMENT', { timeout: 30_000 }, async () => {
    const whole = counterRequest({ name: 'truncated.counter', value: 5, attributes: { route: '/checkout' }, resource: { 'service.namespace': 'shop' } });
    // The request is one top-level length-delimited field, so every cut inside it is invalid.
    const cuts = [1, 2, 3, Math.floor(whole.length / 3), Math.floor(whole.length / 2), whole.length - 2, whole.length - 1];
    await refuseEach('truncated request', cuts.map((n) => whole.subarray(0, n)), { code: status.INVALID_ARGUMENT, reason: 'malformed' }, noRetryInfo);
    const text = await scrape(daemon.metricsBase);
    assert.equal(valueWith(text, 'truncated_counter_total', { route: '/checkout' }), undefined, 'nothing of a truncated request is merged');
  });

  it('answers a field with the wrong wire type with INVALID_ARGUMENT', { timeout: 30_000 }, async () => {
    const payloads = [
      // resource_metrics (field 1) as a varint
      Buffer.from([0x08, 0x01]),
      // resource_metrics as a fixed64
      Buffer.from([0x09, 1, 2, 3, 4, 5, 6, 7, 8]),
      // ResourceMetrics.scope_metrics (field 2) as a varint inside a valid resource_metrics
      Buffer.from([0x0a, 0x02, 0x10, 0x01]),
    ];
    await refuseEach('wrong wire type', payloads, { code: status.INVALID_ARGUMENT, reason: 'malformed' }, noRetryInfo);
  });

  // 64 MiB of zeros inside a valid (unknown) field: about 64 KiB gzipped, 64× the limit once not.
  const bomb = unknownBytesField(64 * 1024 * 1024);
  const tooLarge = { code: status.RESOURCE_EXHAUSTED, reason: 'too_large' };

  it('accepts a gzip-compressed request', { timeout: 15_000 }, async () => {
    const answer = await rawExport(daemon.grpcTarget, counterRequest({ name: 'gzipped.requests', value: 3 }), { gzip: true });
    assert.equal(answer.code, status.OK, answer.details);
    assert.equal(valueWith(await scrape(daemon.metricsBase), 'gzipped_requests_total', {}), 3);
  });

  it('answers a gzip bomb with RESOURCE_EXHAUSTED, no RetryInfo, and counts it as too_large', { timeout: 60_000 }, async () => {
    assert.ok(gzipSync(bomb).length < 256 * 1024, 'the bomb is small on the wire');
    await refuseEach('gzip bomb', [bomb], tooLarge, noRetryInfo, { gzip: true });
  });

  it('answers an uncompressed request over the size limit with RESOURCE_EXHAUSTED', { timeout: 60_000 }, async () => {
    await refuseEach('oversize request', [unknownBytesField(MAX_MESSAGE_BYTES + 1)], tooLarge, noRetryInfo);
  });

  it('answers a request over the in-flight budget with UNAVAILABLE and RetryInfo', { timeout: 30_000 }, async () => {
    // A valid request, padded past the whole budget with an unknown field: it can never be admitted.
    const oversized = Buffer.concat([
      counterRequest({ name: 'over.budget', value: 1 }),
      unknownBytesField(2 * MAX_INFLIGHT_BYTES),
    ]);
    await refuseEach('over the in-flight budget', [oversized], { code: status.UNAVAILABLE, reason: 'inflight_budget' }, (answer) => {
      const details = statusDetails(answer.metadata);
      assert.ok(details !== undefined, 'grpc-status-details-bin is present');
      assert.equal(details.code, status.UNAVAILABLE);
      assert.deepEqual(details.typeUrls, ['type.googleapis.com/google.rpc.RetryInfo']);
      assert.ok(details.retryDelayMs! > 0, `a positive retry delay (${details.retryDelayMs} ms)`);
    });
    const text = await scrape(daemon.metricsBase);
    assert.equal(valueWith(text, 'over_budget_total'), undefined, 'the refused point is not merged');
  });

  it('accepts an invalid histogram point with partial_success and counts it', { timeout: 30_000 }, async () => {
    const nowNs = Date.now() * 1e6;
    const point = (bucketCounts: number[], route: string) => ({
      attributes: attributes({ route }),
      start_time_unix_nano: nowNs - 1e9,
      time_unix_nano: nowNs,
      count: bucketCounts.reduce((a, b) => a + b, 0),
      sum: 3,
      explicit_bounds: [1, 2],
      bucket_counts: bucketCounts,
    });
    const payload = encodeMetricsRequest({
      resource_metrics: [
        {
          resource: { attributes: attributes({ 'service.name': 'raw-client' }) },
          scope_metrics: [
            {
              scope: { name: 'vigil-test' },
              metrics: [
                {
                  name: 'bad.histogram',
                  unit: 's',
                  // bucket_counts must have bounds + 1 = 3 entries; the second point has 2.
                  histogram: { aggregation_temporality: 2, data_points: [point([1, 1, 0], '/good'), point([1, 1], '/bad')] },
                },
              ],
            },
          ],
        },
      ],
    });
    const before = await counters();
    const answer = await rawExport(daemon.grpcTarget, payload);
    assert.equal(answer.code, status.OK, answer.details);
    const partial = decodePartialSuccess(answer.response);
    assert.equal(partial.rejected, 1, 'partial_success.rejected_data_points');
    assert.match(partial.message, /invalid_histogram/);
    const text = await scrape(daemon.metricsBase);
    const rejectedLabels = { signal: 'metrics', reason: 'invalid_histogram' };
    assert.equal((valueWith(text, 'vigil_points_rejected_total', rejectedLabels) ?? 0) - before('vigil_points_rejected_total', rejectedLabels), 1);
    assert.equal(valueWith(text, 'bad_histogram_seconds_count', { route: '/good' }), 2, 'the valid point of the same request is merged');
    assert.equal(valueWith(text, 'bad_histogram_seconds_count', { route: '/bad' }), undefined, 'the invalid point is not');
    await assertStillHealthy('an invalid histogram');
  });
});
