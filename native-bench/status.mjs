#!/usr/bin/env node
// bench:status — GET /api/v2/summary.json from Vigil's status server against a bare uWS app and a
// plain node:http server returning the same bytes, all three with wrk in the same run; then a
// WebSocket broadcast: 5,000 clients on /ws, one incident posted through the admin API, time until
// every client has the update. Writes results/status-api.json (lib/result.mjs); exits non-zero
// if a broadcast client missed the update, or below the bars (Vigil ≥ 0.9× bare uWS req/s;
// broadcast ≤ 1 s) unless --no-bars. `--quick`: 2 s per wrk run, 1,000 clients.
//
//   npm run bench:status -- [--duration 5] [--connections 64] [--threads 2] [--clients 5000]
//                           [--only vigil,uws,node,ws] [--skip-build] [--no-bars] [--quick]
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnChild, stopAll, stopChild, waitForHttp200, waitForLine } from './lib/proc.mjs';
import { helpFromHeader, makeLog } from './lib/ingest-run.mjs';
import { benchDir as here, buildIfNeeded, commandLine, figure, repoRoot, writeResult } from './lib/result.mjs';
import { openRawClient } from './lib/ws-raw.mjs';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    clients: { type: 'string', default: '5000' },
    only: { type: 'string', default: 'vigil,uws,node,ws' },
    'skip-build': { type: 'boolean', default: false },
    'no-bars': { type: 'boolean', default: false },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) helpFromHeader(import.meta.url);
if (args.quick) Object.assign(args, { duration: '2', clients: '1000' });
const only = new Set(args.only.split(','));
const log = makeLog('bench:status');
const TOKEN = 'bench-admin-token-0123456789';
const HOST = '127.0.0.1';

if (spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error) {
  process.stderr.write('bench:status: wrk is not installed (Debian: apt-get install wrk)\n');
  process.exit(2);
}
if (!args['skip-build']) buildIfNeeded(log);

/** Runs wrk; returns requests/s and latency percentiles (ms) from its --latency output. */
function wrk(url, label) {
  const r = spawnSync('wrk', ['-t', args.threads, '-c', args.connections, '-d', `${args.duration}s`, '--latency', url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk against ${label} failed: ${r.stderr}`);
  const toMs = (v, unit) => Number(v) * ({ us: 1e-3, ms: 1, s: 1000 }[unit] ?? 1);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(r.stdout);
    return m ? toMs(m[1], m[2]) : null;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? '0';
  const socketErrors = /Socket errors: (.*)/.exec(r.stdout)?.[1] ?? null;
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  if (Number(errors) > 0) throw new Error(`${label}: ${errors} non-2xx answers`);
  log(`${label}: ${rps.toFixed(0)} req/s, p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
  return { requestsPerSecond: rps, requests, latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99) }, socketErrors };
}

const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-status-'));
const configFile = join(dataDir, 'vigil.yaml');
// Ten components with an SLO each, a few groups: a summary.json of realistic size.
const components = Array.from({ length: 10 }, (_, i) => `  - { id: svc-${i}, name: Service ${i}, group: Group ${i % 3} }`).join('\n');
const slos = Array.from({ length: 10 }, (_, i) => `  - { id: svc-${i}-availability, component: svc-${i}, objective: 99.9, window: 30d, indicator: { availability: { spans: { service: svc-${i} } } } }`).join('\n');
writeFileSync(configFile, `log:\n  level: warn\nstatus:\n  admin_tokens: [${TOKEN}]\ncomponents:\n${components}\nslos:\n${slos}\n`);

const results = { wrk: { connections: Number(args.connections), threads: Number(args.threads), durationS: Number(args.duration) } };
let failed = false;
try {
  const ports = { grpc: await freePort(), http: await freePort(), metrics: await freePort(), status: await freePort() };
  log('starting vigild');
  const vigil = spawnChild('vigil', process.execPath, [join(repoRoot, 'bin', 'vigil.js'), 'start', '--config', configFile, '--data-dir', dataDir,
    '--otlp-grpc', `${HOST}:${ports.grpc}`, '--otlp-http', `${HOST}:${ports.http}`, '--metrics', `${HOST}:${ports.metrics}`, '--status', `${HOST}:${ports.status}`],
  { log: join(here, 'results', 'vigil-status-daemon.log'), guard: true });
  const statusBase = `http://${HOST}:${ports.status}`;
  await waitForHttp200(vigil, `${statusBase}/api/v2/summary.json`, 30_000);
  const first = await fetch(`${statusBase}/api/v2/summary.json`);
  const summary = Buffer.from(await first.arrayBuffer());
  results.responseBytes = summary.length;
  const bodyFile = join(dataDir, 'summary.json');
  writeFileSync(bodyFile, summary);
  // The peers send Vigil's headers too (content type, cache control, ETag, CORS), so every answer is the same size.
  const same = {};
  for (const name of ['content-type', 'cache-control', 'etag', 'access-control-allow-origin', 'x-content-type-options', 'vary']) {
    const v = first.headers.get(name);
    if (v !== null) same[name] = v;
  }
  results.responseHeaders = same;
  const headersFile = join(dataDir, 'headers.json');
  writeFileSync(headersFile, JSON.stringify(same));

  // The peers: one child each, serving the same bytes with the same content type.
  const peers = {};
  for (const [name, script] of [['uws', 'ceiling/uws-static.mjs'], ['node', 'ceiling/node-http-static.mjs']]) {
    if (!only.has(name)) continue;
    const port = await freePort();
    const child = spawnChild(name, process.execPath, [join(here, script), '--port', String(port), '--body', bodyFile, '--headers', headersFile, '--exit-with-stdin'], { stdout: 'lines' });
    await waitForLine(child, (e) => e.listening === true, 15_000);
    peers[name] = { child, url: `http://${HOST}:${port}/api/v2/summary.json` };
  }

  results.targets = {};
  if (only.has('vigil')) results.targets.vigil = wrk(`${statusBase}/api/v2/summary.json`, 'vigil');
  for (const [name, p] of Object.entries(peers)) results.targets[name === 'uws' ? 'bareUws' : 'nodeHttp'] = wrk(p.url, name === 'uws' ? 'bare uWS' : 'node:http');
  const t = results.targets;
  results.ratios = {};
  if (t.vigil && t.bareUws) results.ratios.vigilOverBareUws = t.vigil.requestsPerSecond / t.bareUws.requestsPerSecond;
  if (t.vigil && t.nodeHttp) results.ratios.vigilOverNodeHttp = t.vigil.requestsPerSecond / t.nodeHttp.requestsPerSecond;
  if (t.bareUws && t.nodeHttp) results.ratios.bareUwsOverNodeHttp = t.bareUws.requestsPerSecond / t.nodeHttp.requestsPerSecond;
  for (const p of Object.values(peers)) await stopChild(p.child, 3000);

  if (only.has('ws')) results.broadcast = await broadcast(`ws://${HOST}:${ports.status}/ws`, statusBase, Number(args.clients));

  await stopChild(vigil, 15_000);
  const bars = [];
  if (results.ratios.vigilOverBareUws !== undefined) bars.push([`Vigil ≥ 0.9× bare uWS (got ${results.ratios.vigilOverBareUws.toFixed(3)})`, results.ratios.vigilOverBareUws >= 0.9]);
  if (results.broadcast) bars.push([`broadcast to ${results.broadcast.clients} clients ≤ 1000 ms (got ${results.broadcast.allReceivedMs} ms)`, results.broadcast.allReceivedMs <= 1000 && results.broadcast.received === results.broadcast.clients]);
  results.bars = bars.map(([what, ok]) => ({ what, ok }));
  for (const [what, ok] of bars) log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  failed = !args['no-bars'] && bars.some(([, ok]) => !ok);
  if (results.broadcast && results.broadcast.received !== results.broadcast.clients) failed = true;
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  failed = true;
  await stopAll();
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
const path = writeResult('status-api', {
  command: commandLine('npm run bench:status'),
  ok: !failed,
  lost: results.broadcast ? results.broadcast.clients - results.broadcast.received : 0,
  figures: figures(results),
  ...results,
});
if (args.out) copyFileSync(path, args.out);
process.stdout.write(`${JSON.stringify(results, null, 2)}\nwrote ${args.out ?? path}\n`);
process.exit(failed ? 1 : 0);

/** The docs-table rows: Vigil against bare uWS and node:http serving the same bytes; the broadcast. */
function figures({ targets = {}, broadcast }) {
  const out = [];
  const rps = { name: 'summary.json requests/s', value: targets.vigil?.requestsPerSecond, unit: 'req/s', higherIsBetter: true };
  if (targets.vigil && targets.bareUws) {
    const ratio = targets.vigil.requestsPerSecond / targets.bareUws.requestsPerSecond;
    out.push(figure({ ...rps, reference: 'bare uWS, same bytes', referenceValue: targets.bareUws.requestsPerSecond, target: 'ratio ≥ 0.9', met: ratio >= 0.9 }));
  }
  if (targets.vigil && targets.nodeHttp) out.push(figure({ ...rps, reference: 'node:http, same bytes', referenceValue: targets.nodeHttp.requestsPerSecond }));
  if (broadcast) {
    out.push(figure({ name: `broadcast to ${broadcast.clients.toLocaleString('en-US')} WebSocket clients, last`, value: broadcast.allReceivedMs, unit: 'ms', reference: 'the 1 s bar', referenceValue: 1000, target: '≤ 1,000 ms', met: broadcast.allReceivedMs <= 1000 && broadcast.received === broadcast.clients, higherIsBetter: false }));
  }
  return out;
}

/**
 * Opens `n` WebSocket clients (raw RFC 6455 clients over node:net, lib/ws-raw.mjs: cheap enough that
 * the clients are not what is measured), waits for each one's first snapshot, then creates an incident
 * through the admin API and times until every client has received bytes naming it.
 */
async function broadcast(url, statusBase, n) {
  const { hostname, port, pathname } = new URL(url);
  log(`opening ${n} WebSocket clients`);
  const clients = [];
  for (let i = 0; i < n; i += 250) {
    // Batches of 250 handshakes, so the accept queue does not overflow.
    clients.push(...(await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => openRawClient(hostname, Number(port), pathname)))));
  }
  log(`${n} clients connected; posting an incident`);
  const marker = Buffer.from(`bench-broadcast-${Date.now()}`);
  const receivedAt = [];
  let sentAt = 0;
  const all = new Promise((resolve) => {
    for (const c of clients) {
      c.marker = marker;
      c.onMarker = () => {
        receivedAt.push(performance.now() - sentAt);
        if (receivedAt.length === n) resolve();
      };
    }
  });
  sentAt = performance.now();
  const res = await fetch(`${statusBase}/api/admin/incidents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: marker.toString(), message: 'Broadcast benchmark', components: { 'svc-0': 'partial_outage' } }),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`admin API answered ${res.status}: ${await res.text()}`);
  await Promise.race([all, new Promise((r) => setTimeout(r, 10_000))]);
  const times = receivedAt.sort((a, b) => a - b);
  for (const c of clients) c.socket.destroy();
  const out = { clients: n, received: times.length, firstMs: Math.round(times[0] ?? NaN), p50Ms: Math.round(times[Math.floor(times.length / 2)] ?? NaN), allReceivedMs: Math.round(times[times.length - 1] ?? NaN) };
  log(`broadcast: ${out.received}/${n} clients, first ${out.firstMs} ms, median ${out.p50Ms} ms, all ${out.allReceivedMs} ms`);
  return out;
}
