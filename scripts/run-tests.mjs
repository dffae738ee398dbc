#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with node:test (Node 20 has no glob support in --test),
// one file at a time, human-readable on stdout, and ends with one plain "N passed, N failed" line
// counted from a TAP copy of the run. VIGIL_COVERAGE=1 adds the coverage report.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = findTests('dist').filter((f) => filter.length === 0 || filter.some((s) => f.includes(s))).sort();
if (files.length === 0) {
  console.error('no test files found under dist/ (did the build run?)');
  process.exit(1);
}
const tapDir = mkdtempSync(join(tmpdir(), 'vigil-tap-'));
const tapFile = join(tapDir, 'run.tap');
const coverage = process.env.VIGIL_COVERAGE === '1' ? ['--experimental-test-coverage'] : [];
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', ...coverage, '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, ...files],
  { stdio: 'inherit' },
);
const tap = readFileSync(tapFile, 'utf8');
rmSync(tapDir, { recursive: true, force: true });
const count = (key) => [...tap.matchAll(new RegExp(`^# ${key} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
const skipped = count('skipped');
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(result.status ?? 1);
