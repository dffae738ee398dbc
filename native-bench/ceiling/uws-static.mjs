#!/usr/bin/env node
// The status ceiling: a bare uWebSockets.js app answering every GET with one fixed body (the bytes of
// Vigil's /api/v2/summary.json) and the same headers. Vigil's status server is measured against it.
//
//   node ceiling/uws-static.mjs --port 8081 --body FILE [--headers FILE.json]
// Prints {"listening":true,"port":...} when bound; SIGTERM stops it.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { exitWhenParentGone } from '../lib/child-guard.mjs';

const { values: args } = parseArgs({ options: { port: { type: 'string' }, body: { type: 'string' }, headers: { type: 'string' }, 'exit-with-stdin': { type: 'boolean', default: false } } });
const require = createRequire(new URL('../../package.json', import.meta.url));
const uws = require('uWebSockets.js');
const body = readFileSync(args.body);
const headers = Object.entries(args.headers ? JSON.parse(readFileSync(args.headers, 'utf8')) : { 'content-type': 'application/json; charset=utf-8' });
const app = uws.App();
app.get('/*', (res) => {
  res.cork(() => {
    res.writeStatus('200 OK');
    for (const [k, v] of headers) res.writeHeader(k, v);
    res.end(body);
  });
});
app.listen('127.0.0.1', Number(args.port), (socket) => {
  if (!socket) {
    process.stderr.write(`uws-static: cannot listen on ${args.port}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ listening: true, port: Number(args.port) })}\n`);
});
exitWhenParentGone(() => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
