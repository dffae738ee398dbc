// The bounded fuzz run of `npm test`: a few seconds against the decoders and a few against a
// child vigild. The seed is fixed so CI is reproducible; VIGIL_FUZZ_SEED picks another, and
// `npm run fuzz` is the long run (docs/operations.md, "Fuzzing").

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HEAP_TOLERANCE_BYTES, fuzzChildDaemon } from './child.js';
import { corpus } from './corpus.js';
import { caseSeed, fuzzCase } from './mutate.js';
import { formatFailure, fuzzDecoders } from './run.js';

const SEED = process.env['VIGIL_FUZZ_SEED'] === undefined ? 0x5eed : Number(process.env['VIGIL_FUZZ_SEED']) >>> 0;

describe('fuzz', () => {
  test('the corpus is valid: every seed decodes to a batch', async () => {
    const { decodeCase } = await import('./target.js');
    const { WorkerSeriesState } = await import('../decode-metrics.js');
    const state = new WorkerSeriesState();
    for (const seed of corpus()) {
      assert.equal(decodeCase(state, seed.signal, 'protobuf', seed.protobuf, true), 'batch', seed.name);
      assert.equal(decodeCase(state, seed.signal, 'json', Buffer.from(seed.json), true), 'batch', `${seed.name} (JSON)`);
    }
  });

  test('cases are reproducible from the seed and the index', () => {
    assert.notEqual(caseSeed(SEED, 1), caseSeed(SEED, 2));
    for (const index of [0, 7, 123]) assert.deepEqual(fuzzCase(SEED, index), fuzzCase(SEED, index));
  });

  test(`decoders: every case is a batch or malformed, none hangs (seed ${SEED}, 5 s)`, async (t) => {
    const r = await fuzzDecoders({ seed: SEED, seconds: 5, caseTimeoutMs: 2000 });
    t.diagnostic(`seed ${SEED}: ${r.cases} cases, ${r.batches} batches, ${r.malformed} malformed, slowest ${r.slowestMs.toFixed(1)} ms`);
    assert.equal(r.failures.length, 0, r.failures.map(formatFailure).join('\n'));
    assert.ok(r.cases > 200, `only ${r.cases} cases ran`);
    assert.ok(r.batches > 0 && r.malformed > 0, 'the mutator should make both valid and invalid requests');
  });

  test(`a child vigild answers every case with a documented status and recovers (seed ${SEED}, 5 s)`, async (t) => {
    const r = await fuzzChildDaemon(SEED, 5);
    t.diagnostic(
      `seed ${SEED}: ${r.cases} requests, answers ${JSON.stringify(r.answers)}, heap ${(r.heapBaselineBytes / 2 ** 20).toFixed(1)} → ${(r.heapAfterBytes / 2 ** 20).toFixed(1)} MiB`,
    );
    assert.equal(r.failures.length, 0, r.failures.map(formatFailure).join('\n'));
    assert.equal(r.daemonExitedEarly, false, 'vigild exited during the fuzz run');
    assert.ok(r.goodAfter, 'a valid request was refused after the fuzz run');
    assert.ok(r.cases > 50, `only ${r.cases} requests were sent`);
    assert.ok(
      r.heapAfterBytes <= r.heapBaselineBytes + HEAP_TOLERANCE_BYTES,
      `heap grew from ${r.heapBaselineBytes} to ${r.heapAfterBytes} bytes (tolerance ${HEAP_TOLERANCE_BYTES})`,
    );
  });
});
