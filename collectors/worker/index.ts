// The decode worker pool: one piscina task per request. The request bytes are copied once into a
// pooled buffer the worker owns (transferred, not cloned); the batch's records come back
// transferred, and both buffers go back the other way for reuse (buffers.ts).

import { Piscina } from 'piscina';
import { OverloadedError, WorkerFailedError } from '../errors.js';
import type { MetricBatch, MetricTask, MetricTaskResult, PayloadEncoding, SpanBatch, TraceTask, TraceTaskResult } from './batch.js';
import { BufferPool } from './buffers.js';
import type { SpanDecodeOptions } from './decode-traces.js';

/** The file each worker thread loads: CommonJS, never require(esm) (see entry.cts). */
export const WORKER_ENTRY = new URL('./entry.cjs', import.meta.url);

/** Record buffers handed back to a worker with one task. */
const RECYCLE_PER_TASK = 4;
/** Record buffers waiting to go back at most; more are left to the garbage collector. */
const MAX_RETURNING = 32;

/** Settings of the pool (the `workers` config section plus decoder options). */
export interface DecodePoolOptions {
  threads: number;
  maxQueue: number;
  expMaxScale: number;
  /** Span dimensions, histogram buckets and the error rule; the workers' defaults when absent. */
  spans?: SpanDecodeOptions;
}

/** The pool, with the figures self-metrics need. */
export interface DecodePool {
  /** Decodes one metrics request; `encoding` defaults to protobuf, `tenant` ('' = none) labels its series. */
  decodeMetrics(payload: Uint8Array, generation: number, forceDefinitions: boolean, encoding?: PayloadEncoding, tenant?: string): Promise<MetricTaskResult>;
  /** Decodes one trace request; `encoding` defaults to protobuf, `tenant` ('' = none) labels its series. */
  decodeTraces(payload: Uint8Array, generation: number, forceDefinitions: boolean, encoding?: PayloadEncoding, tenant?: string): Promise<TraceTaskResult>;
  /**
   * Hands a merged batch's records buffer back for a worker to reuse. The batch must not be
   * read afterwards: its records are detached when the next task carries the buffer away.
   */
  recycle(batch: MetricBatch | SpanBatch): void;
  readonly threads: number;
  /** Requests waiting for a worker. */
  queueSize(): number;
  /** Share of worker time spent on tasks since start (piscina's utilization). */
  utilization(): number;
  /** Workers that died and were replaced. */
  readonly restarts: number;
  shutdown(): Promise<void>;
}

/** Starts the pool's threads. */
export function createDecodePool(options: DecodePoolOptions): DecodePool {
  const pool = new Piscina({
    filename: WORKER_ENTRY.href,
    minThreads: options.threads,
    maxThreads: options.threads,
    maxQueue: options.maxQueue,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: { expMaxScale: options.expMaxScale, spans: options.spans },
  });
  let restarts = 0;
  let closed = false;
  // Without a listener an 'error' event would throw on the main thread; worker deaths are
  // counted by workerDestroy, and the task that was running fails on its own.
  pool.on('error', () => {});
  pool.on('workerDestroy', () => {
    if (!closed) restarts++;
  });

  /** Payload copies, handed back by the workers with each batch. */
  const payloadBuffers = new BufferPool();
  /** Record buffers of merged batches, waiting to ride back to a worker with the next task. */
  const returning: ArrayBuffer[] = [];

  /** Runs one task; the payload is copied once into a pooled buffer the worker owns (transferred). */
  async function run(task: MetricTask | TraceTask): Promise<MetricTaskResult | TraceTaskResult> {
    if (pool.queueSize >= options.maxQueue) {
      throw new OverloadedError(`all ${options.threads} decode workers are busy and ${options.maxQueue} requests are queued; retry later`, 'queue_full');
    }
    // A private copy the worker can own outright; the caller keeps the original for a retry.
    const length = task.payload.byteLength;
    const owned = new Uint8Array(payloadBuffers.take(length), 0, length);
    owned.set(task.payload);
    const recycle = returning.splice(0, RECYCLE_PER_TASK);
    let result: MetricTaskResult | TraceTaskResult;
    try {
      result = (await pool.run({ ...task, payload: owned, recycle }, { transferList: [owned.buffer, ...recycle] })) as MetricTaskResult | TraceTaskResult;
    } catch (err) {
      throw new WorkerFailedError(`decode worker failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if ('spent' in result && result.spent !== undefined) {
      payloadBuffers.give(result.spent);
      delete result.spent;
    }
    return result;
  }

  return {
    threads: options.threads,
    get restarts() {
      return restarts;
    },
    decodeMetrics(payload, generation, forceDefinitions, encoding = 'protobuf', tenant = '') {
      return run({ signal: 'metrics', payload, encoding, generation, forceDefinitions, tenant }) as Promise<MetricTaskResult>;
    },
    decodeTraces(payload, generation, forceDefinitions, encoding = 'protobuf', tenant = '') {
      return run({ signal: 'traces', payload, encoding, generation, forceDefinitions, tenant }) as Promise<TraceTaskResult>;
    },
    recycle(batch) {
      if (returning.length < MAX_RETURNING) returning.push(batch.records.buffer as ArrayBuffer);
    },
    queueSize: () => pool.queueSize,
    utilization: () => pool.utilization,
    async shutdown() {
      if (closed) return;
      closed = true;
      await pool.close({ force: false });
    },
  };
}
