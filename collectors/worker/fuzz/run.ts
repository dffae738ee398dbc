// Fuzz runners: the decoders directly (in a watched worker thread, so a hang is cut off and
// reported) and a running vigild over OTLP/gRPC and OTLP/HTTP. Both are seeded: a failure
// prints the seed, the case index and the case's bytes as hex, and `npm run fuzz -- --seed S
// --case N` replays it.

import { Worker } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { caseHex, fuzzCase } from './mutate.js';
import type { TargetData, TargetDone, TargetFailure } from './target.js';

/** One case that broke the contract, ready to print. */
export interface FuzzFailure {
  seed: number;
  index: number;
  kind: 'error' | 'hang' | 'crash' | 'status';
  detail: string;
  mutations: string[];
  signal: string;
  encoding: string;
  hex: string;
}

/** Totals of a decoder run. */
export interface DecoderFuzzResult {
  seed: number;
  cases: number;
  batches: number;
  malformed: number;
  failures: FuzzFailure[];
  slowestMs: number;
  slowestIndex: number;
  seconds: number;
}

/** Options of a decoder run: a case count or a time budget (whichever ends first). */
export interface DecoderFuzzOptions {
  seed: number;
  seconds: number;
  /** Cases at most; default unbounded (the time budget ends the run). */
  cases?: number;
  /** First case index (to replay one case: start N, cases 1). */
  start?: number;
  /** A case running longer than this is a hang: the target is stopped and restarted after it. */
  caseTimeoutMs?: number;
}

function describeFailure(seed: number, index: number, kind: FuzzFailure['kind'], detail: string): FuzzFailure {
  const c = fuzzCase(seed, index);
  return { seed, index, kind, detail, mutations: c.mutations, signal: c.signal, encoding: c.encoding, hex: caseHex(c.bytes) };
}

/** Formats a failure for the console: everything needed to reproduce it. */
export function formatFailure(f: FuzzFailure): string {
  return [
    `fuzz ${f.kind}: seed ${f.seed} case ${f.index} (${f.signal}, ${f.encoding}) — replay: npm run fuzz -- --seed ${f.seed} --case ${f.index}`,
    `  mutations: ${f.mutations.join('; ')}`,
    `  ${f.detail.split('\n').slice(0, 6).join('\n  ')}`,
    `  bytes: ${f.hex}`,
  ].join('\n');
}

/** Fuzzes the decoders directly. */
export async function fuzzDecoders(options: DecoderFuzzOptions): Promise<DecoderFuzzResult> {
  const { seed } = options;
  const caseTimeoutMs = options.caseTimeoutMs ?? 2000;
  const started = Date.now();
  const deadline = started + options.seconds * 1000;
  const end = (options.start ?? 0) + (options.cases ?? Number.MAX_SAFE_INTEGER);
  const result: DecoderFuzzResult = { seed, cases: 0, batches: 0, malformed: 0, failures: [], slowestMs: 0, slowestIndex: -1, seconds: 0 };
  let next = options.start ?? 0;
  while (next < end && Date.now() < deadline) {
    const progress = new SharedArrayBuffer(8);
    const view = new Int32Array(progress);
    Atomics.store(view, 0, next);
    const data: TargetData & { fuzzTarget: true } = { fuzzTarget: true, seed, start: next, end, deadline, progress };
    const worker = new Worker(new URL('./target.js', import.meta.url), { workerData: data, resourceLimits: { maxOldGenerationSizeMb: 512 } });
    const outcome = await new Promise<{ done?: TargetDone; stoppedAt?: number; kind?: 'hang' | 'crash'; detail?: string }>((resolve) => {
      let last = -1;
      let since = Date.now();
      const watch = setInterval(() => {
        const at = Atomics.load(view, 0);
        if (at !== last) {
          last = at;
          since = Date.now();
        } else if (Date.now() - since > caseTimeoutMs && Atomics.load(view, 1) === 0) {
          clearInterval(watch);
          void worker.terminate();
          resolve({ stoppedAt: at, kind: 'hang', detail: `case still running after ${caseTimeoutMs} ms` });
        }
      }, 50);
      worker.on('message', (m: TargetFailure | TargetDone) => {
        if ('done' in m) {
          clearInterval(watch);
          resolve({ done: m });
        } else result.failures.push(describeFailure(seed, m.index, 'error', m.error));
      });
      worker.on('error', (err) => {
        clearInterval(watch);
        resolve({ stoppedAt: Atomics.load(view, 0), kind: 'crash', detail: err.stack ?? err.message });
      });
      worker.on('exit', () => {
        clearInterval(watch);
        resolve({ stoppedAt: Atomics.load(view, 0), kind: 'crash', detail: 'the target thread exited' });
      });
    });
    await worker.terminate();
    if (outcome.done !== undefined) {
      const d = outcome.done;
      result.cases += d.cases;
      result.batches += d.batches;
      result.malformed += d.malformed;
      if (d.slowestMs > result.slowestMs) {
        result.slowestMs = d.slowestMs;
        result.slowestIndex = d.slowestIndex;
      }
      next = d.next;
      if (d.cases === 0) break;
    } else {
      const at = outcome.stoppedAt!;
      result.failures.push(describeFailure(seed, at, outcome.kind!, outcome.detail!));
      result.cases += at - next + 1;
      next = at + 1;
    }
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

// ---- against a running daemon -----------------------------------------------------------------

/** gRPC status codes a client may get from vigild's OTLP receiver (docs/errors.md). */
export const DOCUMENTED_GRPC = new Set([grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.RESOURCE_EXHAUSTED, grpc.status.UNAVAILABLE]);
/** HTTP statuses a client may get from vigild's OTLP/HTTP receiver (docs/errors.md). */
export const DOCUMENTED_HTTP = new Set([200, 400, 413, 415, 429, 503]);

/** Totals of a daemon run. */
export interface DaemonFuzzResult {
  seed: number;
  cases: number;
  /** Answers by transport and status. */
  answers: Record<string, number>;
  failures: FuzzFailure[];
  seconds: number;
}

/** Options of a daemon run. */
export interface DaemonFuzzOptions {
  seed: number;
  seconds: number;
  cases?: number;
  start?: number;
  grpcTarget: string;
  otlpHttpBase: string;
  /** Requests in flight at once. */
  concurrency?: number;
}

const PATHS = {
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
};
const identity = (b: Buffer): Buffer => b;

/** Sends fuzz cases to a running daemon; every answer must be a documented status. */
export async function fuzzDaemon(options: DaemonFuzzOptions): Promise<DaemonFuzzResult> {
  const { seed } = options;
  const started = Date.now();
  const deadline = started + options.seconds * 1000;
  const end = (options.start ?? 0) + (options.cases ?? Number.MAX_SAFE_INTEGER);
  const result: DaemonFuzzResult = { seed, cases: 0, answers: {}, failures: [], seconds: 0 };
  const plain = new grpc.Client(options.grpcTarget, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
  const gzipped = new grpc.Client(options.grpcTarget, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1, 'grpc.default_compression_algorithm': 2 });
  let next = options.start ?? 0;
  const count = (key: string) => (result.answers[key] = (result.answers[key] ?? 0) + 1);

  const one = async (index: number): Promise<void> => {
    const c = fuzzCase(seed, index);
    const viaGrpc = c.encoding === 'protobuf' && index % 2 === 0;
    const gzip = index % 5 === 1;
    if (viaGrpc) {
      const code = await new Promise<grpc.status>((resolve) => {
        const client = gzip ? gzipped : plain;
        client.makeUnaryRequest(PATHS[c.signal], identity, identity, Buffer.from(c.bytes), { deadline: Date.now() + 10_000 }, (err) => resolve(err ? err.code : grpc.status.OK));
      });
      count(`grpc ${grpc.status[code]}`);
      if (!DOCUMENTED_GRPC.has(code)) result.failures.push(describeFailure(seed, index, 'status', `gRPC answered ${grpc.status[code]} (${code})`));
    } else {
      let body: Uint8Array<ArrayBuffer> = new Uint8Array(c.bytes);
      const headers: Record<string, string> = { 'content-type': c.encoding === 'json' ? 'application/json' : 'application/x-protobuf' };
      if (gzip) {
        // Every tenth gzip case is a corrupt stream.
        body = index % 10 === 1 ? body : new Uint8Array(gzipSync(c.bytes));
        headers['content-encoding'] = 'gzip';
      }
      let status: number | string;
      try {
        const res = await fetch(`${options.otlpHttpBase}/v1/${c.signal}`, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        status = res.status;
      } catch (err) {
        status = `no answer (${(err as Error).message})`;
      }
      count(`http ${status}`);
      if (typeof status !== 'number' || !DOCUMENTED_HTTP.has(status)) result.failures.push(describeFailure(seed, index, 'status', `HTTP answered ${status}`));
    }
    result.cases++;
  };

  const lane = async (): Promise<void> => {
    while (next < end && Date.now() < deadline) await one(next++);
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, lane));
  plain.close();
  gzipped.close();
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
