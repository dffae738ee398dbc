#!/usr/bin/env node
// The ceiling: a grpc-js server that answers OTLP Export at once with an empty response and never
// decodes. Whatever Vigil does on top of receiving bytes shows up as the gap to this server.
//
//   node ceiling/grpc-noop.mjs --listen 127.0.0.1:4317
// Prints one JSON line {"event":"listening","address":...,"port":...} when bound; SIGTERM stops it.
import { parseArgs } from 'node:util';
import grpc from '@grpc/grpc-js';
import { METRICS_EXPORT_PATH, TRACES_EXPORT_PATH } from '../lib/otlp-metrics.mjs';
import { exitWhenParentGone } from '../lib/child-guard.mjs';

const { values: args } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:4317' },
    'max-message-bytes': { type: 'string', default: String(16 * 1024 * 1024) },
    'exit-with-stdin': { type: 'boolean', default: false },
  },
});

/** Bytes in, bytes out: no protobuf work on either side. */
const identity = (buffer) => buffer;
const EMPTY = Buffer.alloc(0);

function unary(path) {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

// The same options as the daemon's receiver (collectors/otlp/grpc-server.ts), with its default
// otlp.grpc.max_message_size, so the gap to Vigil is not a transport setting.
const server = new grpc.Server({
  'grpc.max_receive_message_length': Number(args['max-message-bytes']),
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.enable_channelz': 0,
});
const answer = (_call, callback) => callback(null, EMPTY);
server.addService({ Export: unary(METRICS_EXPORT_PATH) }, { Export: answer });
server.addService({ Export: unary(TRACES_EXPORT_PATH) }, { Export: answer });

server.bindAsync(args.listen, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`grpc-noop: cannot bind ${args.listen}: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ event: 'listening', address: args.listen, port, pid: process.pid })}\n`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => {
    server.forceShutdown();
    process.exit(0);
  }, 5000);
  server.tryShutdown(() => {
    clearTimeout(force);
    process.exit(0);
  });
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
exitWhenParentGone(stop);
