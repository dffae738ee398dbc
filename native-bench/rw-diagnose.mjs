#!/usr/bin/env node
// Diagnosis helper for bench:remote-write (not a scenario of run-all): one vigild with the bench's
// config, remote_write on or off, the scrape workload pushed round after round for a window, then
// an idle window; per-thread CPU (main thread vs the rest) for each window, and any extra node
// flags for the daemon (profiles, --trace-gc) so where the CPU goes can be looked at.
//
//   node rw-diagnose.mjs [--rw on|off] [--ingest 40] [--idle 45] [--node-flags "--cpu-prof --cpu-prof-dir=/tmp/x"] [--series 100000]
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import grpc from '@grpc/grpc-js';
import { freePort, spawnChild, stopChild, threadCpuSeconds, waitForHttp200 } from './lib/proc.mjs';
import { benchDir, repoRoot } from './lib/result.mjs';
import { selectEncoder } from './lib/otlp-metrics.mjs';
import { pushRound } from './lib/push-workload.mjs';
import { scrapeWorkload } from './lib/scrape-series.mjs';

const { values: args } = parseArgs({
  options: {
    rw: { type: 'string', default: 'on' },
    ingest: { type: 'string', default: '40' },
    idle: { type: 'string', default: '45' },
    interval: { type: 'string', default: '15' },
    series: { type: 'string', default: '100000' },
    'node-flags': { type: 'string', default: '' },
    host: { type: 'string', default: '127.0.0.1' },
    order: { type: 'string', default: 'ingest,idle' },
  },
});
const host = args.host;
const seriesCount = Number(args.series);
const workload = scrapeWorkload({ series: seriesCount, histograms: 2000 });
const t0 = Date.now();
const log = (m) => process.stderr.write(`rw-diagnose: [${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);

let received = 0;
const server = createServer((req, res) => {
  req.on('data', (c) => (received += c.length));
  req.on('end', () => res.writeHead(204).end());
});
const rport = await freePort(host);
await new Promise((r) => server.listen(rport, host, r));

const [grpcPort, metricsPort, statusPort, httpPort] = [await freePort(host), await freePort(host), await freePort(host), await freePort(host)];
const workDir = mkdtempSync(join(tmpdir(), 'vigil-rw-diagnose-'));
const configFile = join(workDir, 'vigil.yaml');
const lines = ['series:', `  limit: ${Math.max(200_000, seriesCount * 2)}`, '  staleness: 1h', 'percentiles:', '  enabled: false', 'log:', '  level: warn'];
if (args.rw === 'on') lines.push('remote_write:', `  - url: http://${host}:${rport}/vigil`, `    interval: ${args.interval}s`, '    queue: { shards: 4, max_samples_per_send: 2000 }', '    wal: { fsync: always }');
writeFileSync(configFile, `${lines.join('\n')}\n`);
const flags = args['node-flags'].split(' ').filter(Boolean);
const child = spawnChild('vigil', process.execPath, [...flags, join(repoRoot, 'bin', 'vigil.js'), 'start', '--config', configFile, '--otlp-grpc', `${host}:${grpcPort}`, '--otlp-http', `${host}:${httpPort}`,
  '--metrics', `${host}:${metricsPort}`, '--status', `${host}:${statusPort}`, '--data-dir', join(workDir, 'data')], { cwd: workDir, log: join(benchDir, 'results', `rw-diagnose-${args.rw}.log`), guard: true });
await waitForHttp200(child, `http://${host}:${metricsPort}/-/ready`, 30_000);
const encoder = await selectEncoder('auto');
const client = new grpc.Client(`${host}:${grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });

function cpuSplit() {
  const m = threadCpuSeconds(child.pid);
  let main = 0;
  let rest = 0;
  for (const [tid, s] of m) if (tid === child.pid) main += s; else rest += s;
  return { main, rest };
}
function diff(a, b) {
  return { main: b.main - a.main, rest: b.rest - a.rest, total: b.main - a.main + b.rest - a.rest };
}

await pushRound(client, encoder, workload, 0);
let round = 1;
for (const phase of args.order.split(',')) {
  if (phase === 'ingest') {
    const c0 = cpuSplit();
    const began = performance.now();
    let points = 0;
    while (performance.now() - began < Number(args.ingest) * 1000) points += await pushRound(client, encoder, workload, round++);
    const d = diff(c0, cpuSplit());
    const wall = (performance.now() - began) / 1000;
    log(`ingest rw=${args.rw}: ${points} points in ${wall.toFixed(1)} s; CPU main ${d.main.toFixed(2)} other ${d.rest.toFixed(2)} total ${d.total.toFixed(2)} → ${Math.round(points / d.total)} points/CPU-s; received ${received} B`);
  } else if (phase === 'idle') {
    const c0 = cpuSplit();
    const r0 = received;
    await sleep(Number(args.idle) * 1000);
    const d = diff(c0, cpuSplit());
    log(`idle rw=${args.rw} ${args.idle} s: CPU main ${d.main.toFixed(2)} other ${d.rest.toFixed(2)} total ${d.total.toFixed(2)}; received ${received - r0} B`);
  }
}
client.close();
await stopChild(child);
rmSync(workDir, { recursive: true, force: true });
server.close();
