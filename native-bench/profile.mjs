#!/usr/bin/env node
// npm run profile — the daemon under the bench:ingest metrics load, profiled by Clinic.js: first
// `clinic flame` (where the CPU goes), then `clinic doctor` (event-loop delay, GC, handles). Each
// pass starts `node bin/vigil.js start` under clinic, waits for /-/ready, runs load/grpc-metrics.mjs
// against it, then sends SIGINT (as Ctrl-C would): clinic stops the daemon and writes its report. Prints the path of each HTML report (under .clinic/,
// gitignored). Works offline: clinic's usage statistics and update check are switched off.
// Clinic flame shows the main thread only; `--tool cpu-prof` (node --cpu-prof, no clinic) writes
// one .cpuprofile per thread, decode workers included.
//
//   npm run profile -- [--tool flame,doctor,cpu-prof] [--duration 15] [--warmup 2] [--concurrency 32]
//                      [--dest ../.clinic] [--skip-build] [--quick]
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, isRunning, signalGroup, spawnChild, stopAll, waitForHttp200, waitForLine } from './lib/proc.mjs';
import { helpFromHeader, makeLog } from './lib/ingest-run.mjs';
import { benchDir, buildIfNeeded, repoRoot } from './lib/result.mjs';

const TOOLS = ['flame', 'doctor', 'cpu-prof'];
const { values: args } = parseArgs({
  options: {
    tool: { type: 'string', default: 'flame,doctor' },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    dest: { type: 'string', default: join(repoRoot, '.clinic') },
    'ready-timeout': { type: 'string', default: '60' },
    'report-timeout': { type: 'string', default: '120' },
    'skip-build': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) helpFromHeader(import.meta.url);
if (args.quick) Object.assign(args, { duration: '4', warmup: '1' });
const tools = args.tool.split(',').map((s) => s.trim()).filter(Boolean);
for (const t of tools) {
  if (!TOOLS.includes(t)) {
    process.stderr.write(`profile: --tool: unknown tool '${t}' (${TOOLS.join(', ')})\n`);
    process.exit(2);
  }
}
const log = makeLog('profile');
const HOST = '127.0.0.1';

/** clinic's CLI from the repository's node_modules (a root devDependency). */
function clinicBin() {
  try {
    return createRequire(join(repoRoot, 'package.json')).resolve('clinic/bin.js');
  } catch {
    throw new Error('clinic is not installed: run `npm install` (or `npm ci`) at the repository root');
  }
}

async function profile(tool) {
  const [grpc, metrics, status, http] = [await freePort(HOST), await freePort(HOST), await freePort(HOST), await freePort(HOST)];
  const workDir = mkdtempSync(join(tmpdir(), 'vigil-profile-'));
  const daemon = [join(repoRoot, 'bin', 'vigil.js'), 'start', '--otlp-grpc', `${HOST}:${grpc}`, '--metrics', `${HOST}:${metrics}`,
    '--status', `${HOST}:${status}`, '--otlp-http', `${HOST}:${http}`, '--data-dir', join(workDir, 'data')];
  // Doctor samples through a preload that worker threads would run too (see the preload's header).
  const preload = tool === 'doctor' ? ['-r', join(benchDir, 'lib', 'clinic-doctor-main-only.cjs')] : [];
  // cpu-prof: no clinic, V8's own profiler, which also writes one profile per decode worker thread.
  const cpuProfDir = tool === 'cpu-prof' ? join(args.dest, `cpu-prof-${Date.now()}`) : null;
  const command = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, ...daemon] : [clinicBin(), tool, '--open=false', '--dest', args.dest, '--', process.execPath, ...preload, ...daemon];
  log(`[${tool}] ${cpuProfDir ? 'node' : 'clinic'} ${command.slice(cpuProfDir ? 0 : 1).map((a) => (a.startsWith('/') ? relative(process.cwd(), a) || a : a)).join(' ')}`);
  // Its own process group, so a failure can kill clinic (or the daemon) and everything it started at once.
  const profiled = spawn(process.execPath, command, {
    cwd: workDir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_INSIGHT: '1', NO_UPDATE_NOTIFIER: '1' },
  });
  profiled.benchName = tool;
  const stopOnExit = () => signalGroup(profiled, 'SIGKILL');
  process.once('exit', stopOnExit);
  const exited = new Promise((resolve) => profiled.once('close', (code, signal) => resolve({ code, signal })));
  let report = null;
  for (const stream of [profiled.stdout, profiled.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      const m = /Generated HTML file is (file:\/\/\S+)/.exec(line);
      if (m) report = fileURLToPath(m[1]);
      process.stderr.write(`  ${tool}: ${line}\n`);
    });
  }
  try {
    await waitForHttp200(profiled, `http://${HOST}:${metrics}/-/ready`, Number(args['ready-timeout']) * 1000);
    log(`[${tool}] daemon ready; load: ${args.concurrency} in flight, ${args.warmup} s warm-up + ${args.duration} s`);
    const load = spawnChild('load generator', process.execPath, [join(benchDir, 'load', 'grpc-metrics.mjs'), '--target', `${HOST}:${grpc}`,
      '--duration', args.duration, '--warmup', args.warmup, '--concurrency', args.concurrency, '--exit-with-stdin'], { stdout: 'lines' });
    const result = await waitForLine(load, function result(e) { return e.event === 'result'; }, (Number(args.duration) + Number(args.warmup)) * 1000 + 90_000);
    await load.exited;
    log(`[${tool}] load done: ${Math.round(result.points / result.elapsedSeconds).toLocaleString('en-US')} points/s under the profiler, ${result.errors} failed calls`);
    if (!isRunning(profiled)) throw new Error(`${tool} exited during the load`);
    // Doctor relays SIGINT to the daemon itself (a second one would make the daemon exit at once,
    // before the sampler's last write); flame (0x) waits for the daemon to exit, so it gets the
    // SIGINT too, as with Ctrl-C in a terminal.
    log(`[${tool}] SIGINT to ${{ doctor: 'clinic', flame: 'clinic and the daemon', 'cpu-prof': 'the daemon' }[tool]}; the report follows`);
    if (tool === 'flame') signalGroup(profiled, 'SIGINT');
    else profiled.kill('SIGINT');
    let timer;
    const outcome = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, Number(args['report-timeout']) * 1000, 'timeout'); })]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new Error(`${tool} wrote no report within ${args['report-timeout']} s`);
    if (outcome.code !== 0) throw new Error(`${tool} exited with ${JSON.stringify(outcome)}`);
    if (cpuProfDir) {
      const profiles = existsSync(cpuProfDir) ? readdirSync(cpuProfDir).filter((f) => f.endsWith('.cpuprofile')) : [];
      if (profiles.length === 0) throw new Error(`no .cpuprofile written to ${cpuProfDir}`);
      return `${cpuProfDir}/ (${profiles.length} .cpuprofile files: the main thread and each worker thread)`;
    }
    if (!report || !existsSync(report)) throw new Error(`${tool} did not say where its report is`);
    return report;
  } finally {
    if (isRunning(profiled)) {
      signalGroup(profiled, 'SIGKILL');
      await exited;
    }
    process.off('exit', stopOnExit);
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function main() {
  if (!args['skip-build']) buildIfNeeded(log);
  const reports = [];
  for (const tool of tools) reports.push([tool, await profile(tool)]);
  process.stdout.write('\nReports (clinic: open the HTML in a browser; cpu-prof: Chrome DevTools or speedscope):\n');
  for (const [tool, path] of reports) process.stdout.write(`  ${tool.padEnd(8)} ${path}\n`);
}

main().catch(async (err) => {
  log(`error: ${err.stack ?? err.message}`);
  await stopAll();
  process.exit(1);
});
