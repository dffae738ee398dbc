// Joins the receivers to the store: hand the raw request to a worker, merge its batch, count.

import { MalformedPayloadError, WorkerFailedError } from '../collectors/errors.js';
import type { DecodeFailure, MetricBatch, SpanBatch } from '../collectors/worker/batch.js';
import type { DecodePool } from '../collectors/worker/index.js';
import type { IngestOutcome, IngestSink, PayloadEncoding } from '../collectors/otlp/types.js';
import type { SelfMetrics } from './self-metrics.js';
import type { Store } from './store/store.js';

/** Re-decodes allowed when series are evicted while a request is being decoded. */
const MAX_REDECODES = 3;

/** What one signal's merge reports. */
interface Merged {
  accepted: number;
  rejected: Record<string, number>;
  rejectedTotal: number;
}

/** How one signal is decoded, merged and counted. */
interface SignalPath<B extends MetricBatch | SpanBatch> {
  decode(payload: Buffer, generation: number, forceDefinitions: boolean, encoding: PayloadEncoding, tenant: string): Promise<B | DecodeFailure>;
  canMerge(batch: B): boolean;
  merge(batch: B): Merged;
  count(batch: B, merged: Merged): void;
  countRejected(reason: string, n: number): void;
  /** "data points" or "spans", for partial_success messages. */
  noun: string;
}

/** The ingest sink the receivers call. */
export function createPipeline(pool: DecodePool, store: Store, metrics: SelfMetrics): IngestSink {
  const metricPath: SignalPath<Parameters<Store['merge']>[0]> = {
    decode: (p, g, f, e, t) => pool.decodeMetrics(p, g, f, e, t),
    canMerge: (b) => store.canMerge(b),
    merge: (b) => store.merge(b),
    count: (b, m) => {
      metrics.pointsReceived.inc({ signal: 'metrics' }, b.pointsReceived);
      metrics.pointsAccepted.inc({ signal: 'metrics' }, m.accepted);
    },
    countRejected: (reason, n) => metrics.pointsRejected.inc({ signal: 'metrics', reason }, n),
    noun: 'data points',
  };
  const tracePath: SignalPath<Parameters<Store['mergeSpans']>[0]> = {
    decode: (p, g, f, e, t) => pool.decodeTraces(p, g, f, e, t),
    canMerge: (b) => store.canMergeSpans(b),
    merge: (b) => store.mergeSpans(b),
    count: (b, m) => {
      metrics.spansReceived.inc(b.spansReceived);
      metrics.spansAccepted.inc(m.accepted);
    },
    countRejected: (reason, n) => metrics.spansRejected.inc({ reason }, n),
    noun: 'spans',
  };
  return (signal, payload, encoding = 'protobuf', tenant = '') =>
    signal === 'traces' ? ingest(tracePath, pool, store, payload, encoding, tenant) : ingest(metricPath, pool, store, payload, encoding, tenant);
}

async function ingest<B extends MetricBatch | SpanBatch>(path: SignalPath<B>, pool: DecodePool, store: Store, payload: Buffer, encoding: PayloadEncoding, tenant: string): Promise<IngestOutcome> {
  let forceDefinitions = false;
  for (let attempt = 0; attempt <= MAX_REDECODES; attempt++) {
    const result = await path.decode(payload, store.generation, forceDefinitions, encoding, tenant);
    if (isFailure(result)) throw new MalformedPayloadError(result.message, result.reason);
    if (!path.canMerge(result)) {
      // Series this batch relies on were evicted meanwhile: decode again with full definitions.
      pool.recycle(result);
      forceDefinitions = true;
      continue;
    }
    const merged = path.merge(result);
    path.count(result, merged);
    pool.recycle(result);
    let message = '';
    for (const reason in merged.rejected) {
      const n = merged.rejected[reason]!;
      if (n === 0) continue;
      path.countRejected(reason, n);
      message += `${message === '' ? '' : '; '}${n} ${reason}`;
    }
    if (message !== '') message = `rejected ${path.noun}: ${message} (see docs/errors.md)`;
    return { rejected: merged.rejectedTotal, message };
  }
  throw new WorkerFailedError('series were evicted repeatedly while the request was decoded; retry');
}

function isFailure(result: MetricBatch | SpanBatch | DecodeFailure): result is DecodeFailure {
  return 'failed' in result;
}
