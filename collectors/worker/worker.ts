// The piscina worker entry: one task = one OTLP request → one MetricBatch or SpanBatch, by the
// task's signal.
//
// Options arrive as the pool's workerData ({ expMaxScale, spans }). The batch's records buffer is
// transferred to the main thread, not cloned.

import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { MalformedPayloadError } from '../errors.js';
import { recordBuffers } from './buffers.js';
import type { DecodeFailure, MetricTask, MetricTaskResult, TraceTask, TraceTaskResult } from './batch.js';
import { type DecodeOptions, WorkerSeriesState, decodeMetricsRequest } from './decode-metrics.js';
import { type SpanDecodeOptions, decodeTracesRequest } from './decode-traces.js';
import { otlpJsonToProtobuf } from './json-to-proto.js';

/** Exponential histogram scale used when the pool passes none (the OTel SDK default maximum). */
const DEFAULT_EXP_MAX_SCALE = 20;

function readOptions(data: unknown): DecodeOptions {
  const scale = (data as { expMaxScale?: unknown } | null | undefined)?.expMaxScale;
  return { expMaxScale: typeof scale === 'number' && Number.isInteger(scale) ? scale : DEFAULT_EXP_MAX_SCALE };
}

/** Span settings used when the pool passes none (the spanmetrics connector's defaults, in seconds). */
const DEFAULT_SPAN_OPTIONS: SpanDecodeOptions = {
  dimensions: [],
  buckets: [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15],
  errorOnHttp5xx: false,
};

const options = readOptions(workerData);
const spanOptions = (workerData as { spans?: SpanDecodeOptions } | null | undefined)?.spans ?? DEFAULT_SPAN_OPTIONS;
/** Which series this worker thread has described; lives as long as the thread. */
const state = new WorkerSeriesState();

/**
 * Test-only fault injection, honoured only when NODE_ENV=test and VIGIL_TEST_WORKER_FAULTS=1
 * (docs/operations.md): a payload containing `vigil-test-fault:throw` makes this task throw,
 * `vigil-test-fault:exit` ends this worker thread, both after the decode claimed its definitions.
 */
const FAULTS_ENABLED = process.env['NODE_ENV'] === 'test' && process.env['VIGIL_TEST_WORKER_FAULTS'] === '1';
const FAULT_THROW = Buffer.from('vigil-test-fault:throw');
const FAULT_EXIT = Buffer.from('vigil-test-fault:exit');

function injectFault(payload: Uint8Array): void {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (bytes.includes(FAULT_EXIT)) process.exit(70);
  if (bytes.includes(FAULT_THROW)) throw new Error('injected worker fault (vigil-test-fault:throw)');
}

/** Decodes one request. Malformed bytes give a DecodeFailure; anything else is a bug and throws. */
export default function decodeTask(task: MetricTask | TraceTask): MetricTaskResult | TraceTaskResult {
  if (task.recycle !== undefined) for (const buffer of task.recycle) recordBuffers.give(buffer);
  try {
    // OTLP/JSON is re-encoded as protobuf first, so both encodings share one decoder.
    const payload = task.encoding === 'json' ? otlpJsonToProtobuf(task.signal, task.payload) : task.payload;
    const batch =
      task.signal === 'traces'
        ? decodeTracesRequest(payload, state, task.generation, task.forceDefinitions, options, spanOptions, task.tenant ?? '')
        : decodeMetricsRequest(payload, state, task.generation, task.forceDefinitions, options, task.tenant ?? '');
    if (FAULTS_ENABLED) injectFault(task.payload);
    // piscina transfers only a top-level movable value: wrap the batch in one whose transfer
    // list is its records buffer and the payload's, handed back for reuse. The main thread
    // receives the plain batch.
    const spent = task.payload.buffer as ArrayBuffer;
    batch.spent = spent;
    return move({
      [transferableSymbol]: [batch.records.buffer, spent],
      [valueSymbol]: batch,
    }) as unknown as MetricTaskResult | TraceTaskResult;
  } catch (err) {
    if (err instanceof MalformedPayloadError) {
      const failure: DecodeFailure = { failed: true, reason: err.reason, message: err.message };
      return failure;
    }
    // A bug or a fault: the batch never reaches the main thread, so definitions this task
    // claimed must be sent again; forgetting all of them is the safe answer to a rare event.
    state.forget();
    throw err;
  }
}
