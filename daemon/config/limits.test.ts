// limits.*: memory limits and their `auto` defaults.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateConfig } from './index.js';

function errors(raw: unknown): string[] {
  const result = validateConfig(raw);
  return 'errors' in result ? result.errors : [];
}

describe('limits', () => {
  test('sizes are taken as given', () => {
    const result = validateConfig({ limits: { memory_soft: '300MiB', memory_hard: '400MiB', check_interval: '100ms' } });
    assert.ok('config' in result);
    assert.deepEqual(result.config.limits, { memorySoftBytes: 300 * 1024 ** 2, memoryHardBytes: 400 * 1024 ** 2, checkIntervalMs: 100 });
  });

  test('auto soft is 3/4 of the hard limit; a soft limit alone implies the hard one', () => {
    const a = validateConfig({ limits: { memory_hard: '800MiB' } });
    assert.ok('config' in a);
    assert.equal(a.config.limits.memorySoftBytes, 600 * 1024 ** 2);
    const b = validateConfig({ limits: { memory_soft: '600MiB' } });
    assert.ok('config' in b);
    assert.equal(b.config.limits.memoryHardBytes, 800 * 1024 ** 2);
  });

  test('soft must be below hard, and each at least 16MiB', () => {
    assert.deepEqual(errors({ limits: { memory_soft: '2GiB', memory_hard: '1GiB' } }), [
      `limits.memory_soft: must be below limits.memory_hard (${2 * 1024 ** 3} >= ${1024 ** 3} bytes)`,
    ]);
    assert.deepEqual(errors({ limits: { memory_hard: '1MiB' } }), ['limits.memory_hard: must be "auto" or a size of at least 16MiB, e.g. 1GiB (got "1MiB")']);
    assert.deepEqual(errors({ limits: { memory: '1GiB' } }), ["'limits' has invalid key: memory"]);
  });
});
