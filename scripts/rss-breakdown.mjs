#!/usr/bin/env node
// Where a process's RSS is (Linux): samples /proc/PID/status every 200 ms until the process ends
// (or once with --once), and breaks the highest sample down from /proc/PID/smaps into glibc's main
// arena ([heap]), glibc per-thread arenas (64 MiB-aligned anonymous mappings), other anonymous
// memory (V8 heaps, mmapped buffers), file-backed pages and stacks. docs/operations.md uses it.
//
//   node scripts/rss-breakdown.mjs PID [--once]
//   node scripts/rss-breakdown.mjs --match vigil-overload-   # waits for a process whose command line contains it
import { readFileSync, readdirSync } from 'node:fs';
import { memoryMaps as breakdown } from '../native-bench/lib/proc.mjs';

const MiB = 1024 * 1024;

function findPid(fragment) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.some((a) => a.endsWith('vigil.js')) && args.some((a) => a.includes(fragment))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function rss(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? undefined : Number(match[1]) * 1024;
}

const args = process.argv.slice(2);
const once = args.includes('--once');
const matchAt = args.indexOf('--match');
let pid = matchAt >= 0 ? undefined : Number(args[0]);
for (let i = 0; pid === undefined && i < 600; i++) {
  pid = findPid(args[matchAt + 1]);
  if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
}
if (pid === undefined || !Number.isInteger(pid)) {
  console.error('usage: rss-breakdown.mjs PID [--once] | --match FRAGMENT');
  process.exit(2);
}
let peak = { rss: 0, groups: undefined };
for (;;) {
  let now;
  try {
    now = rss(pid);
    if (now !== undefined && now > peak.rss) peak = { rss: now, groups: breakdown(pid) };
  } catch {
    now = undefined;
  }
  if (now === undefined || once) break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const mib = (n) => Math.round(n / MiB);
console.log(JSON.stringify({ pid, peakRssMiB: mib(peak.rss), ...Object.fromEntries(Object.entries(peak.groups ?? {}).map(([k, v]) => [`${k}MiB`, mib(v)])) }));
