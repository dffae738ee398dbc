// The result file every scenario writes, so `npm run bench` can build one table from all of them.
//
//   results/<scenario>.json = {
//     scenario, date, machine, commit, command, ok, lost,
//     figures: [{ name, value, unit, reference?, referenceValue?, ratio?, target?, met? }],
//     ...scenario-specific detail
//   }
//
// `figures` are what the docs table shows: Vigil's value, the peer or ceiling measured in the same
// run, their ratio, and the moonshot it is judged against (`met` true/false, or absent when the
// figure has no target). `lost` is the number of items sent but not found afterwards (must be 0);
// `ok` is false when the scenario failed a check of its own.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLK_TCK } from './proc.mjs';

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = join(benchDir, '..');
export const resultsDir = join(benchDir, 'results');

export function machineInfo() {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, clkTck: CLK_TCK };
}

/** HEAD and whether the tree had uncommitted changes, so a result names the code it measured. */
export function gitDescribe() {
  const git = (...a) => spawnSync('git', ['-C', repoRoot, ...a], { encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return null;
  return { head: head.stdout.trim(), dirty: git('status', '--porcelain').stdout.trim() !== '' };
}

function newestSourceMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (name.endsWith('.ts') || name.endsWith('.proto')) newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

/** Runs the root build when dist/ is missing or older than any source file. */
export function buildIfNeeded(log = (m) => process.stderr.write(`${m}\n`)) {
  const cli = join(repoRoot, 'dist', 'daemon', 'cli.js');
  const sources = Math.max(...['daemon', 'collectors', 'exporters', 'proto'].map((d) => newestSourceMtime(join(repoRoot, d))), statSync(join(repoRoot, 'tsconfig.json')).mtimeMs);
  if (existsSync(cli) && statSync(cli).mtimeMs >= sources) return;
  log('building the daemon: npm --prefix .. run build');
  const result = spawnSync('npm', ['--prefix', repoRoot, 'run', 'build'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 180_000 });
  if (result.status !== 0) throw new Error(`build failed (exit ${result.status ?? result.signal ?? result.error?.message})`);
}

/** The command line that reproduces this run, as a user would type it. */
export function commandLine(script) {
  const extra = process.argv.slice(2);
  return `cd native-bench && ${script}${extra.length ? ' -- ' + extra.join(' ') : ''}`;
}

/**
 * A figure for the table. `ratio` is value ÷ referenceValue unless given; `referenceUnit` is the
 * reference's unit when it differs from the value's; `higherIsBetter` only documents the
 * direction for readers of the JSON.
 */
export function figure({ name, value, unit, reference, referenceValue, referenceUnit, ratio, target, met, higherIsBetter }) {
  const f = { name, value, unit };
  if (reference !== undefined) f.reference = reference;
  if (referenceValue !== undefined) f.referenceValue = referenceValue;
  if (referenceUnit !== undefined) f.referenceUnit = referenceUnit;
  const r = ratio ?? (referenceValue ? value / referenceValue : undefined);
  if (r !== undefined && Number.isFinite(r)) f.ratio = Math.round(r * 1000) / 1000;
  if (target !== undefined) f.target = target;
  if (met !== undefined) f.met = met;
  if (higherIsBetter !== undefined) f.higherIsBetter = higherIsBetter;
  return f;
}

/** Writes results/<scenario>.json and returns its path. */
export function writeResult(scenario, { command, ok, lost, figures, ...detail }) {
  if (!Array.isArray(figures)) throw new Error(`${scenario}: figures must be an array`);
  mkdirSync(resultsDir, { recursive: true });
  const path = join(resultsDir, `${scenario}.json`);
  const body = { scenario, date: new Date().toISOString(), machine: machineInfo(), commit: gitDescribe(), command, ok: ok !== false, lost: lost ?? 0, figures, ...detail };
  writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`);
  return path;
}
