// The `vigil report` part of bench:slo-scale (issue 13): a month of every minute stored for
// `components` components (one 30d SLO each), then, in the same run and on the same file:
//   - `vigil report --format json` as a user runs it (wall, its own CPU seconds, peak RSS);
//   - the floor of a report made from rollups alone: reading every SLO's day rows of the month;
//   - the SQLite scan the report cannot avoid without an index: every minute row of the month
//     tested for a bad share (what classifyStored's badMinutes() costs);
//   - the peer: the old per-minute path (lib/report-per-minute.mjs), whose JSON must equal the
//     CLI's but for the generation time.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot, benchDir } from './result.mjs';
import { fleetConfig, fleetSloIds, writeMonthOfMinutesNative } from './slo-fleet.mjs';

const require = createRequire(join(repoRoot, 'package.json'));
const Database = require('better-sqlite3');

/** Runs `args` under node with lib/cpu-at-exit.mjs: wall ms, CPU seconds, peak RSS MiB. */
function timedNode(args, scratch, label) {
  const cpuFile = join(scratch, `${label}.cpu.json`);
  const t = performance.now();
  const res = spawnSync(process.execPath, ['--max-old-space-size=8192', '--import', join(benchDir, 'lib', 'cpu-at-exit.mjs'), ...args], {
    encoding: 'utf8',
    timeout: 900_000,
    env: { ...process.env, BENCH_CPU_OUT: cpuFile },
  });
  const wallMs = performance.now() - t;
  if (res.status !== 0) throw new Error(`${label} failed (${res.status ?? res.signal}): ${res.stderr}`);
  const usage = JSON.parse(readFileSync(cpuFile, 'utf8'));
  return { wallMs, cpuS: usage.cpuS, maxRssMiB: usage.maxRssKiB / 1024 };
}

/** CPU seconds and wall ms of `work` in this process. */
function timed(work) {
  const c = process.cpuUsage();
  const t = performance.now();
  const value = work();
  const u = process.cpuUsage(c);
  return { value, wallMs: performance.now() - t, cpuS: (u.user + u.system) / 1e6 };
}

/**
 * Writes the month, measures, and returns the figures. `oldPath: false` skips the per-minute peer
 * (minutes of CPU and gigabytes of memory at 1,000 components).
 */
export async function measureReport({ scratch, components, days, oldPath = true, log }) {
  const dir = join(scratch, 'report');
  mkdirSync(dir, { recursive: true });
  const size = { components, slos: components };
  writeFileSync(join(dir, 'vigil.yaml'), fleetConfig(size));
  const { Storage } = await import(join(repoRoot, 'dist/daemon/storage/index.js'));
  Storage.open({ dataDir: dir }).close();
  const now = new Date();
  const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const monthDays = days ?? new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 0)).getUTCDate();
  const ids = fleetSloIds(size);
  const write = timed(() => writeMonthOfMinutesNative(join(dir, 'vigil.db'), ids, month.getTime(), monthDays));
  const rows = write.value;
  const dbBytes = Number(spawnSync('stat', ['-c', '%s', join(dir, 'vigil.db')], { encoding: 'utf8' }).stdout.trim());
  log(`report data: ${components} components, ${rows.toLocaleString('en-US')} minute rows in ${(write.wallMs / 1000).toFixed(1)} s, ${(dbBytes / 2 ** 20).toFixed(0)} MiB`);
  const monthText = `${month.getUTCFullYear()}-${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
  const config = join(dir, 'vigil.yaml');
  const out = { ...size, minuteRows: rows, days: monthDays, dbMiB: dbBytes / 2 ** 20, month: monthText };

  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  out.loadBefore = load();
  out.cli = timedNode([join(repoRoot, 'bin', 'vigil.js'), 'report', '--month', monthText, '--config', config, '--data-dir', dir, '--format', 'json', '--output', join(dir, 'report.json')], scratch, 'report-cli');
  log(`vigil report (stored path): ${Math.round(out.cli.wallMs)} ms wall, ${out.cli.cpuS.toFixed(2)} CPU s, ${Math.round(out.cli.maxRssMiB)} MiB peak (load ${load()})`);

  // The floors, in this process on the same file.
  const from = month.getTime() / 60_000;
  const to = from + monthDays * 1440;
  const db = new Database(join(dir, 'vigil.db'), { readonly: true });
  try {
    const dayRows = db.prepare('SELECT day, good, total FROM slo_day WHERE slo = ? AND day >= ? AND day < ?').raw(true);
    out.dayRows = timed(() => ids.reduce((n, id) => n + dayRows.all(id, from / 1440, to / 1440).length, 0));
    const scan = db.prepare('SELECT minute, good, total FROM slo_minute WHERE slo = ? AND minute >= ? AND minute < ? AND total > good AND (total - good) / total >= ?').raw(true);
    out.minuteScan = timed(() => ids.reduce((n, id) => n + scan.all(id, from, to, 0.0144 * (1 - 1e-9)).length, 0));
  } finally {
    db.close();
  }
  log(`floors: day rows of every SLO ${out.dayRows.wallMs.toFixed(1)} ms (${out.dayRows.value} rows); SQLite scan of every minute row for bad ones ${Math.round(out.minuteScan.wallMs)} ms, ${out.minuteScan.cpuS.toFixed(2)} CPU s (${out.minuteScan.value} rows out)`);

  if (oldPath) {
    out.loadBeforeOld = load();
    out.perMinute = timedNode([join(benchDir, 'lib', 'report-per-minute.mjs'), config, dir, monthText, join(dir, 'report-old.json')], scratch, 'report-old');
    log(`old per-minute path: ${Math.round(out.perMinute.wallMs)} ms wall, ${out.perMinute.cpuS.toFixed(2)} CPU s, ${Math.round(out.perMinute.maxRssMiB)} MiB peak (load ${load()})`);
    const strip = (text) => JSON.stringify({ ...JSON.parse(text), generated_at: undefined });
    out.sameAsPerMinute = strip(readFileSync(join(dir, 'report.json'), 'utf8')) === strip(readFileSync(join(dir, 'report-old.json'), 'utf8'));
    if (!out.sameAsPerMinute) throw new Error('vigil report and the per-minute path disagree on the same data');
    log('the two reports are identical (but for the generation time)');
  }
  out.loadAfter = load();
  rmSync(dir, { recursive: true, force: true });
  return out;
}
