#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with node:test (Node 20 has no glob support in --test).
import { readdirSync, statSync } from 'node:fs';
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
const coverage = process.env.VIGIL_COVERAGE === '1' ? ['--experimental-test-coverage'] : [];
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...coverage, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
