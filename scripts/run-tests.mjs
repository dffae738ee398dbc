#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with node:test (Node 20 has no glob support in --test),
// one file at a time, human-readable on stdout, and ends with one plain "N passed, N failed" line
// counted from a TAP copy of the run. VIGIL_COVERAGE=1 (`npm run test:coverage`) collects V8
// coverage from every process the tests start (daemons included) and reports it with c8.
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
const coverageDir = process.env.VIGIL_COVERAGE === '1' ? mkdtempSync(join(tmpdir(), 'vigil-v8cov-')) : null;
const env = coverageDir ? { ...process.env, NODE_V8_COVERAGE: coverageDir } : process.env;
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, ...files],
  { stdio: 'inherit', env },
);
if (coverageDir) {
  spawnSync(process.execPath, [join('node_modules', 'c8', 'bin', 'c8.js'), 'report', `--temp-directory=${coverageDir}`,
    '--reporter=text-summary', '--reporter=lcov', '--report-dir=coverage', '--exclude=native-bench', '--exclude=test-support',
    '--exclude=**/*.test.*', '--exclude=node_modules'], { stdio: 'inherit' });
  rmSync(coverageDir, { recursive: true, force: true });
}
const tap = readFileSync(tapFile, 'utf8');
rmSync(tapDir, { recursive: true, force: true });
const count = (key) => [...tap.matchAll(new RegExp(`^# ${key} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
const skipped = count('skipped');
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(result.status ?? 1);
