// The decode worker pool: one piscina task per request. The request bytes are copied once into a
// buffer the worker owns (transferred, not cloned); the batch's records come back transferred.

import { Piscina } from 'piscina';
import { OverloadedError, WorkerFailedError } from '../errors.js';
import type { MetricTask, MetricTaskResult } from './batch.js';

/** Settings of the pool (the `workers` config section plus decoder options). */
export interface DecodePoolOptions {
  threads: number;
  maxQueue: number;
  expMaxScale: number;
}

/** The pool, with the figures self-metrics need. */
export interface DecodePool {
  decodeMetrics(payload: Uint8Array, generation: number, forceDefinitions: boolean): Promise<MetricTaskResult>;
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
    filename: new URL('./worker.js', import.meta.url).href,
    minThreads: options.threads,
    maxThreads: options.threads,
    maxQueue: options.maxQueue,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: { expMaxScale: options.expMaxScale },
  });
  let restarts = 0;
  let closed = false;
  // Without a listener an 'error' event would throw on the main thread; worker deaths are
  // counted by workerDestroy, and the task that was running fails on its own.
  pool.on('error', () => {});
  pool.on('workerDestroy', () => {
    if (!closed) restarts++;
  });

  return {
    threads: options.threads,
    get restarts() {
      return restarts;
    },
    async decodeMetrics(payload, generation, forceDefinitions) {
      if (pool.queueSize >= options.maxQueue) {
        throw new OverloadedError(`all ${options.threads} decode workers are busy and ${options.maxQueue} requests are queued; retry later`, 'queue_full');
      }
      // A private copy the worker can own outright; the caller keeps the original for a retry.
      const owned = new Uint8Array(payload);
      const task: MetricTask = { signal: 'metrics', payload: owned, generation, forceDefinitions };
      try {
        return (await pool.run(task, { transferList: [owned.buffer] })) as MetricTaskResult;
      } catch (err) {
        throw new WorkerFailedError(`decode worker failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
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
