// A deterministic pseudo-random generator (mulberry32), so a benchmark's workload and any failure
// reproduce from its seed.

/** A function returning uniform numbers in [0, 1) from `seed`. */
export function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
