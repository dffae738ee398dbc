#!/usr/bin/env node
// bench:decode — the metrics decoder alone: the bench:ingest payloads (40 requests × 500 points,
// hand-encoded by lib/otlp-metrics.mjs) decoded over and over by decodeMetricsRequest from
// dist/ (the code the worker runs), series already described, as in steady state. Prints CPU
// nanoseconds per point, the best of 7 passes of 1,000 requests (best-of, because a shared
// machine only ever adds time).
//
//   npm run bench:decode -- [--root DIR]   (DIR: another checkout's root, to compare builds)
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildRequestObject, encodeRequestHand } from '../lib/otlp-metrics.mjs';
import { buildIfNeeded, repoRoot } from '../lib/result.mjs';

const { values: args } = parseArgs({ options: { root: { type: 'string', default: repoRoot } } });
if (args.root === repoRoot) buildIfNeeded();
const dist = (path) => pathToFileURL(join(args.root, 'dist', path)).href;
const { WorkerSeriesState, decodeMetricsRequest } = await import(dist('collectors/worker/decode-metrics.js'));
// Builds before the buffer pools hand out a fresh buffer per batch; later ones get theirs back.
const { recordBuffers } = await import(dist('collectors/worker/buffers.js')).catch(() => ({ recordBuffers: null }));

const payloads = Array.from({ length: 40 }, (_, i) => encodeRequestHand(buildRequestObject(i)));
const state = new WorkerSeriesState();
const options = { expMaxScale: 20 };

function pass(requests) {
  let records = 0;
  const before = process.cpuUsage();
  for (let i = 0; i < requests; i++) {
    const batch = decodeMetricsRequest(payloads[i % payloads.length], state, 1, false, options);
    records += batch.recordCount;
    recordBuffers?.give(batch.records.buffer);
  }
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / records;
}

pass(1200); // warm-up: every series described, the code optimised
let best = Infinity;
for (let i = 0; i < 7; i++) best = Math.min(best, pass(1000));
console.log(`decode: ${best.toFixed(1)} ns of CPU per point (best of 7 passes; ${args.root})`);
