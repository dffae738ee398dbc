// The decoder fuzz target, run in a worker thread so that a hang can be cut off: it decodes
// cases [start, end) of a seeded run and publishes the index it is on in shared memory, which
// the runner (run.ts) watches. Every case must give a batch or a MalformedPayloadError.

import { parentPort, workerData } from 'node:worker_threads';
import { MalformedPayloadError } from '../../errors.js';
import { WorkerSeriesState, decodeMetricsRequest } from '../decode-metrics.js';
import { decodeTracesRequest } from '../decode-traces.js';
import { otlpJsonToProtobuf } from '../json-to-proto.js';
import { fuzzCase } from './mutate.js';

/** What the runner passes. */
export interface TargetData {
  seed: number;
  start: number;
  end: number;
  /** Stop at this time (ms since epoch) even before `end`. */
  deadline: number;
  /** Int32Array[0] = case being decoded; [1] = 1 when done. */
  progress: SharedArrayBuffer;
}

/** One case that broke the contract. */
export interface TargetFailure {
  index: number;
  error: string;
}

/** The target's last message. */
export interface TargetDone {
  done: true;
  cases: number;
  batches: number;
  malformed: number;
  /** Next case index (where a run that stopped at the deadline ends). */
  next: number;
  /** Slowest case, ms, and its index. */
  slowestMs: number;
  slowestIndex: number;
}

const SPAN_OPTIONS = { dimensions: ['http.route'], buckets: [0.005, 0.01, 0.1, 1], errorOnHttp5xx: true };
const OPTIONS = { expMaxScale: 3 };

/** Decodes one case as the pool's worker would; returns 'batch' or 'malformed', throws otherwise. */
export function decodeCase(state: WorkerSeriesState, signal: 'metrics' | 'traces', encoding: 'protobuf' | 'json', bytes: Uint8Array, force: boolean): 'batch' | 'malformed' {
  try {
    const payload = encoding === 'json' ? otlpJsonToProtobuf(signal, bytes) : bytes;
    const batch = signal === 'traces' ? decodeTracesRequest(payload, state, 1, force, OPTIONS, SPAN_OPTIONS) : decodeMetricsRequest(payload, state, 1, force, OPTIONS);
    if (!(batch.length <= batch.records.length)) throw new Error(`batch length ${batch.length} exceeds its records (${batch.records.length})`);
    return 'batch';
  } catch (err) {
    if (err instanceof MalformedPayloadError) return 'malformed';
    throw err;
  }
}

if (parentPort !== null && (workerData as { fuzzTarget?: boolean } | null)?.fuzzTarget === true) {
  const data = workerData as TargetData;
  const progress = new Int32Array(data.progress);
  const state = new WorkerSeriesState();
  const done: TargetDone = { done: true, cases: 0, batches: 0, malformed: 0, next: data.start, slowestMs: 0, slowestIndex: -1 };
  for (let index = data.start; index < data.end && Date.now() < data.deadline; index++) {
    Atomics.store(progress, 0, index);
    const c = fuzzCase(data.seed, index);
    const started = performance.now();
    try {
      if (decodeCase(state, c.signal, c.encoding, c.bytes, (index & 7) === 0) === 'batch') done.batches++;
      else done.malformed++;
    } catch (err) {
      parentPort.postMessage({ index, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies TargetFailure);
    }
    const ms = performance.now() - started;
    if (ms > done.slowestMs) {
      done.slowestMs = ms;
      done.slowestIndex = index;
    }
    done.cases++;
    done.next = index + 1;
  }
  Atomics.store(progress, 1, 1);
  parentPort.postMessage(done);
}
