// Regression: vigild never exited after SIGTERM when its log pipe could not take more (a log
// reader stopped with SIGSTOP, ~900 SIGHUPs each logging "config reloaded"): pino's exit flush
// slept on EAGAIN forever. Here the reader is a real `cat` on a FIFO, stopped or killed, while
// running and at SIGTERM; vigild must keep serving, bound what it holds, and exit 0 within 5 s.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scrape, sampleValue } from '../../test-support/daemon.js';
import { pollUntil } from '../../test-support/wait.js';

const EXIT_WITHIN_MS = 5000;
const BUFFER_BYTES = 64 * 1024;
const dirs: string[] = [];
const processes: ChildProcess[] = [];

after(() => {
  for (const p of processes) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGCONT');
      p.kill('SIGKILL');
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A vigild whose stdout and stderr go into a FIFO read by `cat` (into a file). */
interface PipedDaemon {
  vigild: ChildProcess;
  reader: ChildProcess;
  exited: Promise<number | null>;
  metricsBase: string;
  stderrCopy(): string;
}

async function startPiped(): Promise<PipedDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-logpipe-'));
  dirs.push(dir);
  const fifo = join(dir, 'log.fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo failed');
  const copy = join(dir, 'log.out');
  const outFd = openSync(copy, 'w');
  const reader = spawn('cat', [fifo], { stdio: ['ignore', outFd, 'ignore'] });
  processes.push(reader);
  closeSync(outFd);
  // Opening a FIFO for writing waits for its reader, which cat is.
  const pipeFd = openSync(fifo, 'w');
  const config = join(dir, 'vigil.yaml');
  writeFileSync(config, `log:\n  level: info\n  buffer_size: ${BUFFER_BYTES}\n`);
  const vigild = spawn(
    process.execPath,
    ['bin/vigil.js', 'start', '--config', config, '--otlp-grpc', '127.0.0.1:0', '--otlp-http', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--status', '127.0.0.1:0', '--data-dir', join(dir, 'data')],
    { stdio: ['ignore', pipeFd, pipeFd] },
  );
  processes.push(vigild);
  closeSync(pipeFd);
  const exited = new Promise<number | null>((resolve) => vigild.on('exit', (code) => resolve(code)));
  const started = await pollUntil('the "vigild started" line', 15_000, async () => {
    for (const line of readFileSync(copy, 'utf8').split('\n')) {
      if (!line.includes('"vigild started"')) continue;
      return JSON.parse(line) as { prometheus: { host: string; port: number } };
    }
    return undefined;
  });
  return { vigild, reader, exited, metricsBase: `http://${started.prometheus.host}:${started.prometheus.port}`, stderrCopy: () => readFileSync(copy, 'utf8').slice(-2000) };
}

async function reloadsApplied(metricsBase: string): Promise<number> {
  return sampleValue(await scrape(metricsBase), 'vigil_config_reloads_total{outcome="applied"}') ?? 0;
}

/**
 * Sends SIGHUPs (each logs "config reloaded", ~140 bytes) until `count` more reloads were applied:
 * signals sent faster than the daemon handles them coalesce, more so on a busy machine.
 */
async function reloadMany(d: PipedDaemon, count: number): Promise<void> {
  const target = (await reloadsApplied(d.metricsBase)) + count;
  const deadline = Date.now() + 60_000;
  for (let i = 1; ; i++) {
    d.vigild.kill('SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (i % 200 === 0 && ((await reloadsApplied(d.metricsBase)) >= target || Date.now() > deadline)) break;
  }
}

/** SIGTERM, then the exit code; fails if the process is still alive after 5 s. */
async function terminate(d: PipedDaemon, afterSignal: () => void = () => {}): Promise<number | null> {
  const since = Date.now();
  d.vigild.kill('SIGTERM');
  afterSignal();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`vigild still running ${EXIT_WITHIN_MS} ms after SIGTERM`)), EXIT_WITHIN_MS);
  });
  try {
    const code = await Promise.race([d.exited, timeout]);
    assert.ok(Date.now() - since <= EXIT_WITHIN_MS);
    return code;
  } finally {
    clearTimeout(timer);
  }
}

describe('a log pipe that stalls or closes', () => {
  it('reader stopped while running: keeps serving, holds at most log.buffer_size, counts drops, and exits 0 within 5 s of SIGTERM', { timeout: 60_000 }, async () => {
    const d = await startPiped();
    d.reader.kill('SIGSTOP');
    await reloadMany(d, 1500);
    const text = await scrape(d.metricsBase);
    const dropped = sampleValue(text, 'vigil_log_lines_dropped_total{reason="buffer_full"}') ?? 0;
    const buffered = sampleValue(text, 'vigil_log_buffered_bytes');
    assert.ok(dropped > 0, `expected dropped log lines with the reader stopped, got ${dropped}`);
    assert.ok(buffered !== undefined && buffered <= BUFFER_BYTES, `log buffer ${buffered} bytes over log.buffer_size ${BUFFER_BYTES}`);
    assert.equal(sampleValue(text, 'vigil_log_buffer_limit_bytes'), BUFFER_BYTES);
    assert.equal(await terminate(d), 0);
  });

  it('reader stopped, and reloads keep coming: memory stays bounded', { timeout: 90_000 }, async () => {
    const d = await startPiped();
    d.reader.kill('SIGSTOP');
    await reloadMany(d, 1000);
    const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${d.vigild.pid}/status`, 'utf8'))![1]) * 1024;
    const before = rss();
    await reloadMany(d, 4000);
    const text = await scrape(d.metricsBase);
    const dropped = sampleValue(text, 'vigil_log_lines_dropped_total{reason="buffer_full"}') ?? 0;
    assert.ok(dropped > 1500, `expected most lines dropped, got ${dropped}`);
    const grown = rss() - before;
    assert.ok(grown < 24 * 1024 ** 2, `RSS grew ${grown} bytes while the reader was stopped`);
    assert.ok((sampleValue(text, 'vigil_log_buffered_bytes') ?? Infinity) <= BUFFER_BYTES);
    assert.equal(await terminate(d), 0);
  });

  it('reader dead while running: keeps serving, counts lines as closed, exits 0 within 5 s', { timeout: 60_000 }, async () => {
    const d = await startPiped();
    d.reader.kill('SIGKILL');
    await new Promise((resolve) => d.reader.once('exit', resolve));
    await reloadMany(d, 300);
    const text = await scrape(d.metricsBase);
    assert.ok((sampleValue(text, 'vigil_log_lines_dropped_total{reason="closed"}') ?? 0) > 0, 'expected lines counted as dropped with the reader gone');
    assert.equal(await terminate(d), 0);
  });

  it('reader stopped, then killed just after SIGTERM: exits 0 within 5 s', { timeout: 60_000 }, async () => {
    const d = await startPiped();
    d.reader.kill('SIGSTOP');
    await reloadMany(d, 1500);
    assert.equal(await terminate(d, () => d.reader.kill('SIGKILL')), 0);
  });
});
