import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WORKER_ENTRY } from './index.js';

// piscina loads the worker file with require() first; on Node 20.19+ that would take an ES module
// through require(esm), whose graph check once aborted the daemon. The pool's entry must load with
// require(esm) switched off, and still decode through the ES-module worker behind it.
test('the worker entry loads without require(esm) and decodes a request', () => {
  const script = `
    const decode = require(${JSON.stringify(fileURLToPath(WORKER_ENTRY))});
    decode({ signal: 'metrics', payload: new Uint8Array(0), generation: 1, forceDefinitions: false }).then((r) => {
      const batch = Object.getOwnPropertySymbols(r).map((s) => r[s]).find((v) => v && v.records);
      process.stdout.write(JSON.stringify({ records: batch.length, generation: batch.generation }));
    });`;
  const run = spawnSync(process.execPath, ['--no-experimental-require-module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { records: 0, generation: 1 });
});
