#!/usr/bin/env node
// Retained memory per probe: the probes collector with N HTTP probes (config, state, last outcome,
// HDR duration windows) after every probe ran once against a local target, measured after a full
// GC against the same process before the collector existed. Run with --expose-gc (the script
// re-executes itself with it). Prints one JSON line.
//
//   node micro/probe-memory.mjs [--probes 10000]
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../lib/result.mjs';

const { values: args } = parseArgs({ options: { probes: { type: 'string', default: '10000' } } });
if (typeof globalThis.gc !== 'function') {
  const r = spawnSync(process.execPath, ['--expose-gc', new URL(import.meta.url).pathname, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const N = Number(args.probes);
const { createProbes } = await import(pathToFileURL(join(repoRoot, 'dist', 'collectors', 'probes', 'index.js')).href);
const { validateConfig } = await import(pathToFileURL(join(repoRoot, 'dist', 'daemon', 'config', 'index.js')).href);

const server = createServer((req, res) => res.end('ok'));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const heap = () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external + m.arrayBuffers };
};
const base = heap();
const result = validateConfig({
  components: [{ id: 'bench' }],
  probes: Array.from({ length: N }, (_, i) => ({ id: `p${i}`, component: 'bench', interval: '5s', timeout: '4s', http: { url: `http://127.0.0.1:${port}/p/${i}` } })),
});
if ('errors' in result) throw new Error(result.errors.join('\n'));
const config = result.config;
const probes = createProbes({ probes: config.probes, slos: [], sink: null, percentiles: config.percentiles });
probes.start();
const deadline = Date.now() + 30_000;
while (probes.states().some((s) => s.successes + s.failures < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
await probes.shutdown(Date.now() + 5000);
// The target lives in this process: drop its idle connections so only the collector's memory remains.
server.closeAllConnections();
await new Promise((r) => setTimeout(r, 1000));
const ran = probes.states().filter((s) => s.successes + s.failures > 0).length;
const after = heap();
process.stdout.write(`${JSON.stringify({ probes: N, ran, heapBytesPerProbe: Math.round((after.heap - base.heap) / N), externalBytesPerProbe: Math.round((after.external - base.external) / N), probesKept: probes.states().length })}\n`);
server.close();
