// The piscina worker entry: one task = one OTLP metrics request → one MetricBatch.
//
// Options arrive as the pool's workerData ({ expMaxScale }). The batch's records buffer is
// transferred to the main thread, not cloned.

import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { MalformedPayloadError } from '../errors.js';
import type { DecodeFailure, MetricTask, MetricTaskResult } from './batch.js';
import { type DecodeOptions, WorkerSeriesState, decodeMetricsRequest } from './decode-metrics.js';

/** Exponential histogram scale used when the pool passes none (the OTel SDK default maximum). */
const DEFAULT_EXP_MAX_SCALE = 20;

function readOptions(data: unknown): DecodeOptions {
  const scale = (data as { expMaxScale?: unknown } | null | undefined)?.expMaxScale;
  return { expMaxScale: typeof scale === 'number' && Number.isInteger(scale) ? scale : DEFAULT_EXP_MAX_SCALE };
}

const options = readOptions(workerData);
/** Which series this worker thread has described; lives as long as the thread. */
const state = new WorkerSeriesState();

/** Decodes one request. Malformed bytes give a DecodeFailure; anything else is a bug and throws. */
export default function decodeTask(task: MetricTask): MetricTaskResult {
  try {
    const batch = decodeMetricsRequest(task.payload, state, task.generation, task.forceDefinitions, options);
    // piscina transfers only a top-level movable value: wrap the batch in one whose transfer
    // list is its records buffer. The main thread receives the plain MetricBatch.
    return move({
      [transferableSymbol]: [batch.records.buffer],
      [valueSymbol]: batch,
    }) as unknown as MetricTaskResult;
  } catch (err) {
    if (err instanceof MalformedPayloadError) {
      const failure: DecodeFailure = { failed: true, reason: err.reason, message: err.message };
      return failure;
    }
    throw err;
  }
}
