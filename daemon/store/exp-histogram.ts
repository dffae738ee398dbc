// Exponential-histogram bucket arithmetic: downscaling and merging sparse bucket runs.
// Bucket index i at scale s covers (base^i, base^(i+1)] with base = 2^(2^-s); going from
// scale s to s-d maps index i to i >> d (floor division, also for negative indices).

import type { BucketRun } from '../model/read-model.js';

export { downscaleRun } from '../model/native-histogram.js';

/** Adds `b` into `a` (same scale); returns the merged run (a new one when `b` widens the range). */
export function addRuns(a: BucketRun | null, b: BucketRun | null): BucketRun | null {
  if (b === null || b.counts.length === 0) return a;
  if (a === null || a.counts.length === 0) return { offset: b.offset, counts: b.counts.slice() };
  const first = Math.min(a.offset, b.offset);
  const last = Math.max(a.offset + a.counts.length, b.offset + b.counts.length) - 1;
  let out = a;
  if (first !== a.offset || last - first + 1 !== a.counts.length) {
    out = { offset: first, counts: new Float64Array(last - first + 1) };
    out.counts.set(a.counts, a.offset - first);
  }
  for (let i = 0; i < b.counts.length; i++) out.counts[b.offset - first + i]! += b.counts[i]!;
  return out;
}

export { bucketLowerBound, bucketUpperBound } from '../model/read-model.js';
