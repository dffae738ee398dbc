// The memory guard's admission on a fake measurement: refusal over the soft limit, the bytes
// reserved by requests admitted since the last measurement, and the retry-delay jitter.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryGuard, memoryRefusal, retryDelayMs } from './admission.js';

const MiB = 1024 * 1024;

function guard(used: { bytes: number }): MemoryGuard {
  return new MemoryGuard({ softBytes: 100 * MiB, hardBytes: 200 * MiB, checkIntervalMs: 1000, measure: () => used.bytes });
}

describe('memory guard admission', () => {
  it('a burst within one check interval is not admitted whole (regression: synchronized retries overshot the hard limit)', () => {
    const used = { bytes: 60 * MiB };
    const g = guard(used);
    g.check();
    let admitted = 0;
    for (let i = 0; i < 400; i++) if (g.admit(MiB / 4)) admitted++;
    // 40 MiB of headroom: 160 requests of 256 KiB, not 400 (100 MiB).
    assert.equal(admitted, 160);
    assert.match(memoryRefusal(g), /would exceed its soft limit limits\.memory_soft \(104857600 bytes\)/);
    // The next measurement sees part of them (bodies of calls admitted on their headers may arrive
    // later), so the previous interval's reservations still count once more.
    used.bytes = 80 * MiB;
    g.check();
    assert.equal(g.admit(MiB), false, '80 + 40 reserved > 100');
    g.check();
    assert.equal(g.admit(MiB), true, 'both intervals measured: only the 80 MiB count');
  });

  it('refuses everything over the soft limit, and admits the first request after a measurement whatever its size', () => {
    const used = { bytes: 99 * MiB };
    const g = guard(used);
    g.check();
    assert.equal(g.admit(16 * MiB), true, 'larger than the headroom, but nothing is reserved: not refused forever');
    assert.equal(g.admit(1), false);
    used.bytes = 101 * MiB;
    g.check();
    g.check();
    assert.equal(g.state, 'soft');
    assert.equal(g.admit(0), false);
    assert.match(memoryRefusal(g), /is over its soft limit/);
  });

  it('jitters the retry delay around one second', () => {
    const delays = Array.from({ length: 2000 }, retryDelayMs);
    assert.ok(delays.every((d) => d >= 500 && d <= 1500));
    assert.ok(new Set(delays).size > 100, 'spread, not one value');
  });
});
