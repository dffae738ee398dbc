// Test support: a remote-write receiver of our own. It checks every request the way a strict
// receiver would (headers, snappy block format, WriteRequest decoded by protobufjs — the oracle of
// the hand-written encoder —, labels sorted, unique and valid with __name__, and every series'
// samples in timestamp order across all requests), records what it got, and answers as the test
// scripts it to.

import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';
import SnappyJS from 'snappyjs';
import type { RemoteWriteSettings } from './index.js';

/** prompb remote.proto + types.proto, the parts Remote-Write 1.0 uses. */
export const PROMPB = `
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
message MetricMetadata {
  enum MetricType { UNKNOWN = 0; COUNTER = 1; GAUGE = 2; HISTOGRAM = 3; GAUGEHISTOGRAM = 4; SUMMARY = 5; INFO = 6; STATESET = 7; }
  MetricType type = 1;
  string metric_family_name = 2;
  string help = 4;
  string unit = 5;
}
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
message Exemplar { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
message BucketSpan { sint32 offset = 1; uint32 length = 2; }
message Histogram {
  oneof count { uint64 count_int = 1; double count_float = 2; }
  double sum = 3;
  sint32 schema = 4;
  double zero_threshold = 5;
  oneof zero_count { uint64 zero_count_int = 6; double zero_count_float = 7; }
  repeated BucketSpan negative_spans = 8;
  repeated sint64 negative_deltas = 9;
  repeated double negative_counts = 10;
  repeated BucketSpan positive_spans = 11;
  repeated sint64 positive_deltas = 12;
  repeated double positive_counts = 13;
  enum ResetHint { UNKNOWN = 0; YES = 1; NO = 2; GAUGE = 3; }
  ResetHint reset_hint = 14;
  int64 timestamp = 15;
}
`;

const root = protobuf.parse(PROMPB, { keepCase: true }).root;
export const WriteRequestType = root.lookupType('prometheus.WriteRequest');

/** A decoded TimeSeries (protobufjs toObject with longs as numbers). */
export interface DecodedSeries {
  labels: { name: string; value: string }[];
  samples?: { value: number; timestamp: number }[];
  exemplars?: { labels: { name: string; value: string }[]; value: number; timestamp: number }[];
  histograms?: Record<string, unknown>[];
}

/** A decoded MetricMetadata (type as its enum name, e.g. 'COUNTER'). */
export interface DecodedMetadata {
  type: string;
  metric_family_name: string;
  help: string;
  unit: string;
}

/** Decodes an uncompressed WriteRequest with protobufjs. */
export function decodeWriteRequest(bytes: Uint8Array): DecodedSeries[] {
  return decodeWriteRequestFull(bytes).series;
}

/** Decodes an uncompressed WriteRequest with protobufjs: its series and its metadata. */
export function decodeWriteRequestFull(bytes: Uint8Array): { series: DecodedSeries[]; metadata: DecodedMetadata[] } {
  const message = WriteRequestType.decode(bytes);
  const obj = WriteRequestType.toObject(message, { longs: Number, enums: String, defaults: false, arrays: true, oneofs: false }) as { timeseries?: DecodedSeries[]; metadata?: Partial<DecodedMetadata>[] };
  const metadata = (obj.metadata ?? []).map((m) => ({ type: m.type ?? 'UNKNOWN', metric_family_name: m.metric_family_name ?? '', help: m.help ?? '', unit: m.unit ?? '' }));
  return { series: obj.timeseries ?? [], metadata };
}

/** The series identity: `name{a="b",…}` from its labels. */
export function seriesKey(labels: { name: string; value: string }[]): string {
  return labels.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(',');
}

/** One request as received. */
export interface ReceivedRequest {
  atMs: number;
  headers: IncomingMessage['headers'];
  series: DecodedSeries[];
  /** The request's metric metadata (WriteRequest field 3). */
  metadata: DecodedMetadata[];
  /** What the receiver answered. */
  status: number;
}

/** How to answer a request: a status (and headers/body), or an action on the socket. */
export type Answer =
  | { status: number; headers?: Record<string, string>; body?: string }
  | { action: 'destroy' }
  | { action: 'garbage' }
  | { action: 'hang' };

/** A running receiver. */
export interface TestReceiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Requests answered 2xx, in order. */
  accepted(): ReceivedRequest[];
  /** Problems found in requests (ordering, labels, headers, decoding); the tests assert it stays empty. */
  violations: string[];
  /** Decides the answer to the next request (default 204). */
  respond: (request: ReceivedRequest) => Answer;
  /** Newest accepted float sample per series key. */
  latest(): Map<string, { value: number; timestamp: number }>;
  close(): Promise<void>;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Starts a receiver on 127.0.0.1 (port 0 unless given). */
export async function startReceiver(port = 0): Promise<TestReceiver> {
  const requests: ReceivedRequest[] = [];
  const violations: string[] = [];
  /** Newest timestamp per series of every request received (accepted or not: order must hold on the wire). */
  const newestSeen = new Map<string, number>();
  const latest = new Map<string, { value: number; timestamp: number }>();
  const sockets = new Set<import('node:net').Socket>();
  const receiver: TestReceiver = {
    url: '',
    port: 0,
    requests,
    accepted: () => requests.filter((r) => r.status >= 200 && r.status < 300),
    violations,
    respond: () => ({ status: 204 }),
    latest: () => latest,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const check = (req: IncomingMessage, body: Buffer): { series: DecodedSeries[]; metadata: DecodedMetadata[] } => {
    const h = req.headers;
    if (h['content-type'] !== 'application/x-protobuf') violations.push(`content-type ${h['content-type']}`);
    if (h['content-encoding'] !== 'snappy') violations.push(`content-encoding ${h['content-encoding']}`);
    if (h['x-prometheus-remote-write-version'] !== '0.1.0') violations.push(`version header ${h['x-prometheus-remote-write-version']}`);
    if (!/^Vigil\/\d+\.\d+\.\d+/.test(h['user-agent'] ?? '')) violations.push(`user-agent ${h['user-agent']}`);
    let series: DecodedSeries[];
    let metadata: DecodedMetadata[];
    try {
      ({ series, metadata } = decodeWriteRequestFull(SnappyJS.uncompress(body)));
    } catch (err) {
      violations.push(`undecodable request: ${(err as Error).message}`);
      return { series: [], metadata: [] };
    }
    for (const m of metadata) {
      if (!METRIC_NAME.test(m.metric_family_name)) violations.push(`metadata with invalid family name ${JSON.stringify(m.metric_family_name)}`);
      if (typeof m.type !== 'string' || m.type === 'UNKNOWN') violations.push(`metadata of ${m.metric_family_name} with type ${m.type}`);
    }
    // Within one request, a series' samples must also come in order (first TimeSeries first).
    const inRequest = new Map<string, number>();
    for (const ts of series) {
      const names = ts.labels.map((l) => l.name);
      const name = ts.labels.find((l) => l.name === '__name__')?.value;
      if (name === undefined || !METRIC_NAME.test(name)) violations.push(`no valid __name__ in ${seriesKey(ts.labels)}`);
      for (let i = 0; i < names.length; i++) {
        if (!LABEL_NAME.test(names[i]!)) violations.push(`invalid label name ${names[i]}`);
        if (i > 0 && !(names[i - 1]! < names[i]!)) violations.push(`labels not sorted/unique: ${names.join(',')}`);
        if (ts.labels[i]!.value === '') violations.push(`empty label value ${names[i]}`);
      }
      const key = seriesKey(ts.labels) + (ts.histograms?.length ? '#h' : '');
      const stamps = [...(ts.samples ?? []).map((s) => s.timestamp), ...(ts.histograms ?? []).map((hh) => Number(hh['timestamp']))];
      for (const t of stamps) {
        const before = inRequest.get(key) ?? newestSeen.get(key) ?? -Infinity;
        if (t < before) violations.push(`out of order: ${key} at ${t} after ${before}`);
        inRequest.set(key, Math.max(t, inRequest.get(key) ?? -Infinity));
      }
    }
    return { series, metadata };
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { series, metadata } = check(req, Buffer.concat(chunks));
      const record: ReceivedRequest = { atMs: Date.now(), headers: req.headers, series, metadata, status: 0 };
      requests.push(record);
      const answer = receiver.respond(record);
      if ('action' in answer) {
        if (answer.action === 'destroy') req.socket.destroy();
        else if (answer.action === 'garbage') {
          req.socket.end('this is not HTTP at all\r\n\r\n');
        }
        // 'hang': never answer (the client times out).
        return;
      }
      record.status = answer.status;
      // Retried requests carry the same samples again: order is checked against what was received
      // before, so only advance it for series the receiver keeps.
      if (answer.status >= 200 && answer.status < 300) {
        for (const ts of series) {
          const key = seriesKey(ts.labels) + (ts.histograms?.length ? '#h' : '');
          for (const s of ts.samples ?? []) {
            newestSeen.set(key, Math.max(s.timestamp, newestSeen.get(key) ?? -Infinity));
            latest.set(key, { value: s.value, timestamp: s.timestamp });
          }
          for (const hh of ts.histograms ?? []) newestSeen.set(key, Math.max(Number(hh['timestamp']), newestSeen.get(key) ?? -Infinity));
        }
      }
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/api/v1/write`;
  return receiver;
}

/** Settings for a test endpoint: small backoffs so retries are quick, one shard unless asked. */
export function settings(url: string, tune: Partial<RemoteWriteSettings['queue']> = {}, wal: Partial<RemoteWriteSettings['wal']> = {}): RemoteWriteSettings {
  return {
    url,
    intervalMs: 3_600_000,
    headers: { 'X-Scope-OrgID': 'team-a' },
    bearerToken: null,
    basicAuth: null,
    tls: null,
    queue: { shards: 1, maxSamplesPerSend: 500, timeoutMs: 2000, minBackoffMs: 40, maxBackoffMs: 2000, ...tune },
    wal: { maxBytes: 64 * 1024 ** 2, segmentBytes: 1024 ** 2, fsync: 'always', ...wal },
  };
}
