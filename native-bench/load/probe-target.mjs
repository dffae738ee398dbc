#!/usr/bin/env node
// The targets of bench:probes: one node:http server answering GET /p/<n> with 200 "ok", keeping
// per-path in-flight counts so the bench can prove that no two runs of one probe overlapped.
// GET /stats → { requests, maxInFlightPerPath, overlaps }. Prints {"event":"listening","port"} once up.
//
//   node load/probe-target.mjs [--host 127.0.0.1] [--port 0] [--exit-with-stdin]
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' }, 'exit-with-stdin': { type: 'boolean', default: false } } });

const inFlight = new Map();
let requests = 0;
let maxInFlightPerPath = 0;
let overlaps = 0;

const server = createServer((req, res) => {
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ requests, maxInFlightPerPath, overlaps }));
    return;
  }
  requests++;
  const path = req.url;
  const n = (inFlight.get(path) ?? 0) + 1;
  inFlight.set(path, n);
  if (n > maxInFlightPerPath) maxInFlightPerPath = n;
  if (n > 1) overlaps++;
  const done = () => {
    const left = inFlight.get(path) - 1;
    if (left === 0) inFlight.delete(path);
    else inFlight.set(path, left);
  };
  res.once('close', done);
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  res.end('ok');
});
server.keepAliveTimeout = 1000;
server.listen(Number(args.port), args.host, () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: server.address().port })}\n`);
});
if (args['exit-with-stdin']) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
