// A deterministic pseudo-random generator (mulberry32) for tests and benchmarks, so that a
// failure replays from its seed.

/** A function returning uniform numbers in [0, 1) from `seed`. */
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
