// The hand-written trace decoder against protobufjs as the oracle: requests are encoded by
// protobufjs from proto/, decoded by both, and every span record, definition and exemplar the
// worker produces is compared with what follows from protobufjs' decoding.

/* eslint-disable @typescript-eslint/no-explicit-any -- protobufjs messages are untyped here */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import protobuf from 'protobufjs';
import { labelSet } from '../../daemon/model/naming.js';
import { MalformedPayloadError } from '../errors.js';
import { EXEMPLAR_ID_BYTES, SPAN_SLOTS, SpanFlag, type SpanBatch } from './batch.js';
import { WorkerSeriesState } from './decode-metrics.js';
import { type SpanDecodeOptions, decodeTracesRequest } from './decode-traces.js';
import { random } from '../../test-support/random.js';

const protoDir = fileURLToPath(new URL('../../../proto/', import.meta.url));
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(protoDir, target);
root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', { keepCase: true });
root.resolveAll();
const Request = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');

const BUCKETS = [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15];
const KINDS = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const CODES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

function encode(request: object): Uint8Array {
  const message = Request.fromObject(request);
  assert.equal(Request.verify(message), null);
  return Request.encode(message).finish();
}

function decode(bytes: Uint8Array, spans: Partial<SpanDecodeOptions> = {}, state = new WorkerSeriesState(), force = false): SpanBatch {
  return decodeTracesRequest(bytes, state, 1, force, { expMaxScale: 20 }, { dimensions: [], buckets: BUCKETS, errorOnHttp5xx: false, ...spans });
}

function attrs(record: Record<string, string | number>): object[] {
  return Object.entries(record).map(([key, v]) => ({ key, value: typeof v === 'number' ? { int_value: v } : { string_value: v } }));
}


function ids(rand: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}

const BASE_NS = 1_700_000_000_123_456_789n;

/** A request of `n` spans over two resources, random names/kinds/statuses/durations. */
function randomRequest(seed: number, n: number): object {
  const rand = random(seed);
  const resources = [
    { 'service.name': 'checkout', 'service.namespace': 'shop', 'service.instance.id': 'pod-1', 'deployment.environment': 'prod' },
    { 'service.name': 'billing', 'deployment.environment': 'dev' },
  ];
  return {
    resource_spans: resources.map((resource, r) => ({
      resource: { attributes: attrs(resource) },
      scope_spans: [0, 1].map((scope) => ({
        scope: { name: `scope-${scope}` },
        spans: Array.from({ length: n }, (_, i) => {
          const start = BASE_NS + BigInt(Math.floor(rand() * 1e9));
          const duration = BigInt(Math.floor(rand() ** 3 * 20e9));
          const span: any = {
            trace_id: ids(rand, 16),
            span_id: ids(rand, 8),
            name: `op-${Math.floor(rand() * 3)}`,
            kind: Math.floor(rand() * 6),
            start_time_unix_nano: start.toString(),
            end_time_unix_nano: (start + duration).toString(),
            attributes: attrs({ 'http.route': `/r/${Math.floor(rand() * 2)}`, 'http.response.status_code': rand() < 0.2 ? 503 : 200 }),
            status: { code: Math.floor(rand() * 3), message: 'x' },
          };
          if (r === 1 && i % 7 === 0) delete span.attributes;
          return span;
        }),
      })),
    })),
  };
}

describe('decodeTracesRequest against protobufjs', () => {
  it('gives one record per span with exact duration, end time, bucket, error flag and labels', () => {
    const bytes = encode(randomRequest(7, 60));
    const options = { dimensions: ['http.route', 'deployment.environment'], errorOnHttp5xx: true };
    const batch = decode(bytes, options);
    const oracle = Request.toObject(Request.decode(bytes), { longs: String, bytes: Array }) as any;
    const labelsByHash = new Map(batch.definitions.map((d) => [d.hash, d]));
    let at = 0;
    let spans = 0;
    const lastOf = new Map<string, any>();
    for (const rs of oracle.resource_spans) {
      const resource: Record<string, string> = {};
      for (const kv of rs.resource.attributes) resource[kv.key] = kv.value.string_value;
      for (const ss of rs.scope_spans) {
        for (const span of ss.spans) {
          spans++;
          const start = BigInt(span.start_time_unix_nano);
          const end = BigInt(span.end_time_unix_nano);
          const spanAttrs: Record<string, any> = {};
          for (const kv of span.attributes ?? []) spanAttrs[kv.key] = kv.value.string_value ?? Number(kv.value.int_value);
          const hash = batch.records[at]!;
          const duration = Number(end - start) / 1e9;
          assert.equal(batch.records[at + 1], duration);
          assert.equal(batch.records[at + 2], Number(end) / 1e6);
          const bucket = BUCKETS.findIndex((b) => duration <= b);
          assert.equal(batch.records[at + 3], bucket < 0 ? BUCKETS.length : bucket);
          const error = span.status?.code === 2 || spanAttrs['http.response.status_code'] >= 500;
          assert.equal(batch.records[at + 4], error ? SpanFlag.Error : 0);
          const def = labelsByHash.get(hash);
          assert.ok(def, 'every series is defined in its first request');
          const pairs: Array<[string, string]> = [
            ['service_name', resource['service.name']!],
            ['span_name', span.name],
            ['span_kind', KINDS[span.kind ?? 0]!],
            ['status_code', CODES[span.status?.code ?? 0]!],
            ['job', resource['service.namespace'] ? `${resource['service.namespace']}/${resource['service.name']}` : resource['service.name']!],
          ];
          if (resource['service.instance.id']) pairs.push(['instance', resource['service.instance.id']]);
          const expectedAttributes: Record<string, string> = {};
          if (spanAttrs['http.route'] !== undefined) expectedAttributes['http.route'] = spanAttrs['http.route'];
          expectedAttributes['deployment.environment'] = resource['deployment.environment']!;
          for (const [k, v] of Object.entries(expectedAttributes)) pairs.push([k, v]);
          assert.deepEqual(def.labels, labelSet(pairs));
          assert.deepEqual(def.attributes, expectedAttributes);
          lastOf.set(`${hash}/${batch.records[at + 3]}`, { at, span });
          at += SPAN_SLOTS;
        }
      }
    }
    assert.equal(batch.spansReceived, spans);
    assert.equal(batch.length, at);
    // Exemplars: exactly the last span of each (series, bucket), with its ids.
    let exemplars = 0;
    for (let k = 0; k < batch.length; k += SPAN_SLOTS) if (batch.records[k + 5]! >= 0) exemplars++;
    assert.equal(exemplars, lastOf.size);
    assert.equal(batch.exemplarIds.length, exemplars * EXEMPLAR_ID_BYTES);
    for (const { at: recordAt, span } of lastOf.values()) {
      const ordinal = batch.records[recordAt + 5]!;
      assert.ok(ordinal >= 0);
      const got = batch.exemplarIds.subarray(ordinal * EXEMPLAR_ID_BYTES, (ordinal + 1) * EXEMPLAR_ID_BYTES);
      assert.deepEqual([...got], [...span.trace_id, ...span.span_id]);
    }
  });

  it('hashes a series the same whatever the resource attribute order, and describes it once per worker', () => {
    const span = { trace_id: new Uint8Array(16).fill(1), span_id: new Uint8Array(8).fill(2), name: 'GET', kind: 2, start_time_unix_nano: '1000', end_time_unix_nano: '3000' };
    const a = encode({ resource_spans: [{ resource: { attributes: attrs({ 'service.name': 's', a: '1' }) }, scope_spans: [{ spans: [span] }] }] });
    const b = encode({ resource_spans: [{ resource: { attributes: attrs({ a: '1', 'service.name': 's' }) }, scope_spans: [{ spans: [span, span] }] }] });
    const state = new WorkerSeriesState();
    const first = decode(a, {}, state);
    const second = decode(b, {}, state);
    assert.equal(first.records[0], second.records[0]);
    assert.equal(first.definitions.length, 1);
    assert.equal(second.definitions.length, 0);
    assert.equal(second.records[1], 2e-6, 'durations are exact to the nanosecond');
    assert.equal(decode(b, {}, state, true).definitions.length, 1, 'forced definitions describe each series once');
  });

  it('rejects spans without a name or with end before start, and keeps the rest', () => {
    const ok = { name: 'ok', start_time_unix_nano: '10', end_time_unix_nano: '20' };
    const batch = decode(encode({
      resource_spans: [{
        resource: { attributes: attrs({ 'service.name': 's' }) },
        scope_spans: [{ spans: [ok, { name: '', start_time_unix_nano: '1', end_time_unix_nano: '2' }, { name: 'back', start_time_unix_nano: '20', end_time_unix_nano: '10' }, { name: 'open', start_time_unix_nano: '20' }] }],
      }],
    }));
    assert.equal(batch.spansReceived, 4);
    assert.deepEqual(batch.rejected, { missing_name: 1, invalid_span_time: 2 });
    assert.equal(batch.length, SPAN_SLOTS);
    assert.equal(batch.exemplarIds.length, 0, 'no exemplar without trace and span ids');
  });

  it('takes a dimension from the span before the resource and omits it when neither has it', () => {
    const batch = decode(encode({
      resource_spans: [{
        resource: { attributes: attrs({ 'service.name': 's', region: 'eu' }) },
        scope_spans: [{ spans: [
          { name: 'a', start_time_unix_nano: '1', end_time_unix_nano: '2', attributes: attrs({ region: 'us' }) },
          { name: 'b', start_time_unix_nano: '1', end_time_unix_nano: '2' },
        ] }],
      }, {
        resource: { attributes: attrs({ 'service.name': 't' }) },
        scope_spans: [{ spans: [{ name: 'c', start_time_unix_nano: '1', end_time_unix_nano: '2' }] }],
      }],
    }), { dimensions: ['region'] });
    assert.deepEqual(batch.definitions.map((d) => d.attributes), [{ region: 'us' }, { region: 'eu' }, {}]);
    assert.ok(batch.definitions[2]!.labels.every((l) => l !== 'region'));
  });

  it('answers malformed bytes with MalformedPayloadError naming the path, and forgets what it claimed', () => {
    const good = encode(randomRequest(3, 5));
    const state = new WorkerSeriesState();
    assert.throws(() => decode(good.subarray(0, good.length - 3), {}, state), (err: unknown) => err instanceof MalformedPayloadError && /overruns .* \(in resource_spans\)/.test(err.message));
    assert.equal(state.size, 0);
    // Span.name (field 5) sent as a varint: a known field with the wrong wire type.
    const wrong = Uint8Array.from([0x0a, 6, 0x12, 4, 0x12, 2, 0x28, 1]);
    assert.throws(() => decode(wrong), (err: unknown) => err instanceof MalformedPayloadError && /wrong wire type 0 for field 5/.test(err.message));
    assert.ok(decode(good, {}, state).definitions.length > 0);
  });
});
