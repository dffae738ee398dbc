// Child processes for the harness: free ports, spawning with cleanup on any exit, readiness,
// per-process CPU from /proc, and SIGTERM-then-wait shutdown.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

/** A port the OS considers free right now (bind :0 on a throwaway server, read it, close). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Kernel clock ticks per second (`getconf CLK_TCK`), the unit of /proc/<pid>/stat times. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of `pid` (all its threads) in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm (field 2) may contain spaces and parentheses: split after the last ')'. The rest starts
  // at field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** glibc allocates each thread arena's heap on a 64 MiB boundary (HEAP_MAX_SIZE); nothing else is so aligned. */
const ARENA_ALIGN = 64n * 1024n * 1024n;

/**
 * Where a process's resident memory is (Linux, from /proc/<pid>/smaps), in bytes: `mainArena` is
 * glibc's `[heap]` (the main thread's malloc: Buffer backing stores below the mmap threshold,
 * nghttp2, zlib, uWS, SQLite), `threadArenas` glibc's per-thread arenas (64 MiB-aligned
 * anonymous mappings: decode workers, libuv's pool), `otherAnon` the rest of anonymous memory
 * (V8's heaps, mmapped large buffers), `file` file-backed pages (binary, libraries, ICU), `stack`.
 */
export function memoryMaps(pid) {
  const groups = { mainArena: 0, threadArenas: 0, otherAnon: 0, file: 0, stack: 0 };
  let region;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head !== null) {
      const [, start, perms, inode, name] = head;
      region =
        name === '[heap]' ? 'mainArena'
        : name.startsWith('[stack') ? 'stack'
        : inode !== '0' || name.startsWith('/') ? 'file'
        : BigInt(`0x${start}`) % ARENA_ALIGN === 0n && perms.startsWith('rw') ? 'threadArenas'
        : 'otherAnon';
      continue;
    }
    if (region !== undefined && line.startsWith('Rss:')) groups[region] += Number(line.split(/\s+/)[1]) * 1024;
  }
  return groups;
}

/**
 * utime + stime of each thread of `pid` in seconds, by thread id (/proc/<pid>/task/<tid>/stat).
 * The main thread's id is the pid; Node names every thread `node`, so the others are told apart
 * by their share (a busy decode worker, V8's garbage-collection helpers, libuv's pool).
 */
export function threadCpuSeconds(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / CLK_TCK);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

const live = new Set();
let hooksInstalled = false;

function installHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // Last resort: whatever way the harness ends, no child outlives it.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`);
      Promise.allSettled([...live].map((c) => stopChild(c, 3000))).finally(() => process.exit(130));
    });
  }
}

/**
 * Spawns a tracked child. `stdout: 'lines'` gives the caller a readline interface on `child.lines`;
 * `log` (a path) sends stdout and stderr there instead. stdin stays a pipe so children started with
 * `--exit-with-stdin` notice the harness's death; `guard` adds a watchdog process for children that
 * cannot (the daemon).
 */
export function spawnChild(name, command, args, { cwd, env, stdout = 'inherit', log, guard = false } = {}) {
  installHooks();
  const child = spawn(command, args, {
    cwd,
    env: env ?? process.env,
    stdio: ['pipe', log || stdout === 'lines' ? 'pipe' : 'inherit', log ? 'pipe' : 'inherit'],
  });
  child.benchName = name;
  child.exited = new Promise((resolve) => {
    // 'close' (not 'exit'): stdout is drained by then, so no line is lost to a race.
    child.once('close', (code, signal) => {
      live.delete(child);
      child.exitInfo = { code, signal };
      resolve(child.exitInfo);
    });
  });
  child.once('error', (err) => {
    live.delete(child);
    child.spawnError = err;
  });
  live.add(child);
  if (guard && child.pid) {
    // The watchdog is not tracked: it must outlive an abrupt harness death to do its job.
    const dog = spawn(process.execPath, [new URL('./watchdog.mjs', import.meta.url).pathname, String(child.pid)], { stdio: ['pipe', 'ignore', 'inherit'] });
    child.once('close', () => dog.kill('SIGTERM'));
    process.once('exit', () => dog.kill('SIGTERM'));
  }
  if (log) {
    const out = createWriteStream(log);
    child.stdout.pipe(out);
    child.stderr.pipe(out);
  } else if (stdout === 'lines') {
    child.lines = createInterface({ input: child.stdout });
  }
  return child;
}

/** Sends `signal` to the process group led by `child` (spawned with `detached: true`). */
export function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

/** Whether the child is still running. */
export function isRunning(child) {
  return child.exitCode === null && child.signalCode === null && !child.spawnError;
}

/** Rejects with a message naming the child if it exits before `promise` settles. */
export function unlessExited(child, promise) {
  return Promise.race([
    promise,
    child.exited.then(({ code, signal }) => {
      throw new Error(`${child.benchName} exited early (code ${code}, signal ${signal})`);
    }),
  ]);
}

/** Resolves with the first JSON line on the child's stdout that satisfies `match`. */
export function waitForLine(child, match, timeoutMs) {
  return unlessExited(child, new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.benchName}: no ${match.name || 'expected'} line within ${timeoutMs} ms`)), timeoutMs);
    const onLine = (line) => {
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      if (match(event)) {
        clearTimeout(timer);
        child.lines.off('line', onLine);
        resolve(event);
      }
    };
    child.lines.on('line', onLine);
  }));
}

/** Polls `url` until it answers 200. */
export async function waitForHttp200(child, url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!isRunning(child)) throw new Error(`${child.benchName} exited before ${url} answered 200 (${JSON.stringify(child.exitInfo)})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(100);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms (last: ${last})`);
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Resolves with how it ended. */
export async function stopChild(child, graceMs = 15_000) {
  if (!isRunning(child)) return { code: child.exitCode, signal: child.signalCode, forced: false };
  const started = Date.now();
  child.kill('SIGTERM');
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(resolve, graceMs, 'timeout'); });
  const outcome = await Promise.race([child.exited, timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    await child.exited;
    return { ...child.exitInfo, forced: true, stopMs: Date.now() - started };
  }
  return { ...child.exitInfo, forced: false, stopMs: Date.now() - started };
}

/** Stops every child still running (harness failure path). */
export function stopAll(graceMs = 5000) {
  return Promise.allSettled([...live].map((c) => stopChild(c, graceMs)));
}
