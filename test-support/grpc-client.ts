// A raw OTLP/gRPC client for tests that send hand-made bytes (the SDK exporters only send valid ones).

import * as grpc from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;

/** The answer to one raw Export call. */
export interface RawExportResult {
  code: grpc.status;
  details: string;
  response: Buffer | undefined;
  metadata: grpc.Metadata | undefined;
}

/** Sends `payload` as-is to MetricsService/Export (or `path`), optionally gzip-compressed by grpc-js, with `metadata` headers. */
export function rawExport(
  target: string,
  payload: Buffer,
  options: { gzip?: boolean; path?: string; deadlineMs?: number; metadata?: Record<string, string> } = {},
): Promise<RawExportResult> {
  const channelOptions: grpc.ChannelOptions = { 'grpc.max_send_message_length': -1 };
  if (options.gzip) channelOptions['grpc.default_compression_algorithm'] = 2;
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), channelOptions);
  const path = options.path ?? '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
  const headers = new grpc.Metadata();
  for (const [key, value] of Object.entries(options.metadata ?? {})) headers.set(key, value);
  return new Promise((resolve) => {
    let metadata: grpc.Metadata | undefined;
    const call = client.makeUnaryRequest(path, identity, identity, payload, headers, { deadline: Date.now() + (options.deadlineMs ?? 10_000) }, (err, response) => {
      client.close();
      if (err) resolve({ code: err.code, details: err.details, response: undefined, metadata: err.metadata });
      else resolve({ code: grpc.status.OK, details: '', response, metadata });
    });
    call.on('metadata', (m) => (metadata = m));
  });
}
