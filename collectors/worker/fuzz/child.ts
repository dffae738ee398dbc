// The daemon fuzz run end to end: a child vigild (so its memory is its own), a warm-up, the
// fuzz cases, then the checks: it still accepts a good request, and its heap, read from its own
// vigil_nodejs_heap_size_used_bytes, is back near the warmed-up baseline.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { spawnDaemon, scrape, sampleValue } from '../../../test-support/daemon.js';
import { rawExport } from '../../../test-support/grpc-client.js';
import { corpus } from './corpus.js';
import { fuzzDaemon } from './run.js';
import type { DaemonFuzzResult } from './run.js';

/** A daemon run plus what was measured around it. */
export interface ChildFuzzResult extends DaemonFuzzResult {
  heapBaselineBytes: number;
  heapAfterBytes: number;
  rssBaselineBytes: number;
  rssAfterBytes: number;
  /** A valid request after the run was accepted (gRPC and HTTP). */
  goodAfter: boolean;
  daemonExitedEarly: boolean;
}

/** Heap growth tolerated after the run (retained series are bounded by series.limit below). */
export const HEAP_TOLERANCE_BYTES = 48 * 1024 * 1024;

async function heapAndRss(metricsBase: string): Promise<[number, number]> {
  const text = await scrape(metricsBase);
  return [sampleValue(text, 'vigil_nodejs_heap_size_used_bytes') ?? Number.NaN, sampleValue(text, 'vigil_process_resident_memory_bytes') ?? Number.NaN];
}

/** Sends every corpus seed once over gRPC and HTTP; true when all were accepted. */
async function goodRequests(grpcTarget: string, otlpHttpBase: string): Promise<boolean> {
  let ok = true;
  for (const seed of corpus()) {
    const path = seed.signal === 'traces' ? '/opentelemetry.proto.collector.trace.v1.TraceService/Export' : undefined;
    const answer = await rawExport(grpcTarget, Buffer.from(seed.protobuf), path === undefined ? {} : { path });
    ok &&= answer.code === grpc.status.OK;
    const res = await fetch(`${otlpHttpBase}/v1/${seed.signal}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: seed.json });
    await res.arrayBuffer();
    ok &&= res.status === 200;
  }
  return ok;
}

/** Lowest heap seen over a few scrapes a moment apart (a scrape itself allocates). */
async function settledHeap(metricsBase: string): Promise<[number, number]> {
  let best: [number, number] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  for (let i = 0; i < 5; i++) {
    const [heap, rss] = await heapAndRss(metricsBase);
    if (heap < best[0]) best = [heap, rss];
    await new Promise((r) => setTimeout(r, 100));
  }
  return best;
}

/** Runs the daemon fuzz against a fresh child vigild and stops it. */
export async function fuzzChildDaemon(seed: number, seconds: number, cases?: number): Promise<ChildFuzzResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fuzz-'));
  const config = join(dir, 'vigil.yaml');
  // A small series limit bounds what mutated-but-valid requests may legitimately retain.
  writeFileSync(config, 'series:\n  limit: 2000\nworkers:\n  threads: 1\nlog:\n  level: info\n');
  const child = await spawnDaemon(['--config', config], join(dir, 'data'), { ...process.env, NODE_OPTIONS: '--expose-gc' });
  let exitedEarly = false;
  void child.exited.then(() => (exitedEarly = true));
  try {
    await goodRequests(child.grpcTarget, child.otlpHttpBase);
    await goodRequests(child.grpcTarget, child.otlpHttpBase);
    const [heapBaselineBytes, rssBaselineBytes] = await settledHeap(child.metricsBase);
    const run = await fuzzDaemon({ seed, seconds, ...(cases === undefined ? {} : { cases }), grpcTarget: child.grpcTarget, otlpHttpBase: child.otlpHttpBase });
    const goodAfter = !exitedEarly && (await goodRequests(child.grpcTarget, child.otlpHttpBase));
    const [heapAfterBytes, rssAfterBytes] = await settledHeap(child.metricsBase);
    return { ...run, heapBaselineBytes, heapAfterBytes, rssBaselineBytes, rssAfterBytes, goodAfter, daemonExitedEarly: exitedEarly };
  } finally {
    child.child.kill('SIGTERM');
    await child.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
