#!/usr/bin/env node
// The scrape peer: prom-client holding the scrape workload (lib/scrape-series.mjs), timed
// in-process (`register.metrics()`) and then served on GET /metrics by node:http, gzip when the
// scraper accepts it — what a Node service instrumented with prom-client answers.
//
//   node peer/prom-client-metrics.mjs --listen 127.0.0.1:9465 [--series 100000] [--histograms 2000]
//                                     [--renders 20] [--warmup 3]
// Prints {"event":"listening",...,"inProcessMs":[...]} once the in-process renders are done and
// the port is bound; SIGTERM stops it.
import { parseArgs } from 'node:util';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import client from 'prom-client';
import { fillPromClientRegistry, scrapeWorkload } from '../lib/scrape-series.mjs';
import { exitWhenParentGone } from '../lib/child-guard.mjs';

const { values: args } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:9465' },
    series: { type: 'string', default: '100000' },
    histograms: { type: 'string', default: '2000' },
    renders: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    'exit-with-stdin': { type: 'boolean', default: false },
  },
});
const gzipAsync = promisify(gzip);
const registry = new client.Registry();
const workload = scrapeWorkload({ series: Number(args.series), histograms: Number(args.histograms) });
const built = performance.now();
fillPromClientRegistry(client, registry, workload);
const buildMs = performance.now() - built;

for (let i = 0; i < Number(args.warmup); i++) await registry.metrics();
const inProcessMs = [];
let bytes = 0;
for (let i = 0; i < Number(args.renders); i++) {
  const began = performance.now();
  const text = await registry.metrics();
  inProcessMs.push(performance.now() - began);
  bytes = Buffer.byteLength(text);
}

const server = createServer((req, res) => {
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  registry.metrics().then(async (text) => {
    let body = Buffer.from(text);
    const headers = { 'Content-Type': registry.contentType };
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
      body = await gzipAsync(body);
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = body.length;
    res.writeHead(200, headers).end(body);
  }, (err) => res.writeHead(500).end(String(err)));
});
const colon = args.listen.lastIndexOf(':');
server.listen(Number(args.listen.slice(colon + 1)), args.listen.slice(0, colon), () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: server.address().port, pid: process.pid, buildMs, bytes, inProcessMs })}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
exitWhenParentGone(() => process.exit(1));
