// settleOnce: the end of a probe run shared by the http, tcp, dns and grpc runners.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { settleOnce } from './settle.js';
import { emptyOutcome } from './types.js';

describe('settleOnce', () => {
  it('ends once: the first failure is kept, later ends change nothing', () => {
    const out = emptyOutcome();
    const ends: string[] = [];
    const run = settleOnce<string | null>(out, new AbortController().signal, (failed) => ends.push(`close ${failed}`), (v) => ends.push(`resolve ${v}`), null);
    assert.equal(run.settled, false);
    run.fail('VIGIL_PROBE_CONNECT', 'refused');
    run.fail('VIGIL_PROBE_TIMEOUT', 'timed out');
    run.succeed('late');
    assert.equal(run.settled, true);
    assert.deepEqual(ends, ['close true', 'resolve null']);
    assert.equal(out.error, 'VIGIL_PROBE_CONNECT');
    assert.equal(out.detail, 'refused');
  });

  it('a success resolves with its value, closes with failed false, and keeps a failure recorded before', () => {
    const out = emptyOutcome();
    out.error = 'VIGIL_PROBE_REDIRECTS';
    let closed: boolean | undefined;
    let value: number | undefined;
    const run = settleOnce<number>(out, new AbortController().signal, (failed) => (closed = failed), (v) => (value = v), -1);
    run.succeed(7);
    run.fail('VIGIL_PROBE_TIMEOUT', 'timed out');
    assert.equal(closed, false);
    assert.equal(value, 7);
    assert.equal(out.error, 'VIGIL_PROBE_REDIRECTS');
  });

  it('runs onAbort at the timeout, and stops listening once the run ended', () => {
    const controller = new AbortController();
    let aborts = 0;
    const run = settleOnce<void>(emptyOutcome(), controller.signal, () => {}, () => {}, undefined);
    assert.equal(run.watch(() => aborts++), true);
    run.succeed();
    controller.abort();
    assert.equal(aborts, 0, 'the abort listener was removed at the end');
    const again = new AbortController();
    const out = emptyOutcome();
    const timed = settleOnce<void>(out, again.signal, () => {}, () => {}, undefined);
    timed.watch(() => timed.fail('VIGIL_PROBE_TIMEOUT', 'timed out'));
    again.abort();
    assert.equal(out.error, 'VIGIL_PROBE_TIMEOUT');
    assert.equal(timed.settled, true);
  });

  it('an already aborted signal runs onAbort at once and watch says false', () => {
    const controller = new AbortController();
    controller.abort();
    let aborts = 0;
    const run = settleOnce<void>(emptyOutcome(), controller.signal, () => {}, () => {}, undefined);
    assert.equal(run.watch(() => aborts++), false);
    assert.equal(aborts, 1);
  });
});
