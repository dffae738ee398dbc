#!/usr/bin/env node
// The node:http peer: a plain http.createServer answering every request with one fixed body and the
// same headers as Vigil's /api/v2/summary.json.
//
//   node ceiling/node-http-static.mjs --port 8082 --body FILE [--headers FILE.json]
// Prints {"listening":true,"port":...} when bound; SIGTERM stops it.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { exitWhenParentGone } from '../lib/child-guard.mjs';

const { values: args } = parseArgs({ options: { port: { type: 'string' }, body: { type: 'string' }, headers: { type: 'string' }, 'exit-with-stdin': { type: 'boolean', default: false } } });
const body = readFileSync(args.body);
const headers = { ...(args.headers ? JSON.parse(readFileSync(args.headers, 'utf8')) : { 'content-type': 'application/json; charset=utf-8' }), 'content-length': String(body.length) };
const server = createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(args.port), '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ listening: true, port: Number(args.port) })}\n`));
exitWhenParentGone(() => process.exit(0));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
