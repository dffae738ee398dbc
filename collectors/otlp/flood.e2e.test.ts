// Regression: a connection flood killed vigild. Under `ulimit -n 2048`, 3,200 partial connections
// to any one port made it exit 1 (EMFILE thrown by process.memoryUsage() in the memory guard's
// timer, uncaught); slow clients kept Prometheus connections open past 70 s and gRPC connections
// that never finished the HTTP/2 preface open for good. Here a vigild child runs with 1024 file
// descriptors (prlimit), each listener gets 1,600 partial connections, then slowloris clients.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { sampleValue, scrape, spawnDaemon } from '../../test-support/daemon.js';
import type { ChildDaemon } from '../../test-support/daemon.js';
import { rawExport } from '../../test-support/grpc-client.js';
import { counterRequest } from '../../test-support/otlp-proto.js';
import { pollUntil } from '../../test-support/wait.js';

const FD_LIMIT = 1024;
const FLOOD = 1600;
const GRPC_MAX_CONNECTIONS = 300;
const PROMETHEUS_MAX_CONNECTIONS = 64;
const TIMEOUT_MS = 2000;

let d: ChildDaemon;
const dir = mkdtempSync(join(tmpdir(), 'vigil-flood-'));

before(async () => {
  const config = join(dir, 'vigil.yaml');
  writeFileSync(
    config,
    [
      'otlp:',
      `  grpc: { max_connections: ${GRPC_MAX_CONNECTIONS}, handshake_timeout: ${TIMEOUT_MS}ms }`,
      'prometheus:',
      `  max_connections: ${PROMETHEUS_MAX_CONNECTIONS}`,
      `  header_timeout: ${TIMEOUT_MS}ms`,
      'log: { level: info }',
      'workers: { threads: 1 }',
      '',
    ].join('\n'),
  );
  d = await spawnDaemon(['--config', config], join(dir, 'data'));
  const limited = spawnSync('prlimit', ['--pid', String(d.child.pid), `--nofile=${FD_LIMIT}:${FD_LIMIT}`]);
  assert.equal(limited.status, 0, `prlimit failed: ${limited.stderr}`);
});

after(async () => {
  if (d !== undefined && d.child.exitCode === null) {
    d.child.kill('SIGTERM');
    await d.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

function portOf(base: string): number {
  return Number(new URL(base).port);
}

/** Opens `count` connections, each sending `partial` and nothing more; resolves once all connected or failed. */
async function flood(port: number, count: number, partial: string): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  const settled: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    settled.push(
      new Promise((resolve) => {
        socket.once('connect', () => {
          socket.write(partial);
          resolve();
        });
        socket.once('close', () => resolve());
      }),
    );
    sockets.push(socket);
    // Batches, so the listen backlog sees a flood and not one SYN storm the kernel drops.
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.race([Promise.all(settled), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  return sockets;
}

function alive(): boolean {
  return d.child.exitCode === null && d.child.signalCode === null;
}

async function grpcExportOk(name: string): Promise<void> {
  const answer = await rawExport(d.grpcTarget, counterRequest({ name, value: 1 }));
  assert.equal(answer.code, status.OK, answer.details);
}

async function httpExportOk(name: string): Promise<void> {
  const res = await fetch(`${d.otlpHttpBase}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(counterRequest({ name, value: 1 })) });
  await res.arrayBuffer();
  assert.equal(res.status, 200);
}

/** Every listener answers: an export on both receivers, a scrape, the status API. */
async function servesEverything(tag: string): Promise<void> {
  await pollUntil(`vigild serving again after the ${tag} flood`, 20_000, async () => {
    await grpcExportOk(`after.${tag}.grpc`);
    await httpExportOk(`after.${tag}.http`);
    await scrape(d.metricsBase);
    const res = await fetch(`${d.statusBase}/api/v2/status.json`);
    await res.arrayBuffer();
    return res.status === 200 ? true : undefined;
  });
}

describe('a connection flood past the file-descriptor limit', () => {
  it('on OTLP/gRPC (incomplete HTTP/2 prefaces): no crash, at most max_connections held, refusals counted, serving after', { timeout: 90_000 }, async () => {
    const sockets = await flood(portOf(`http://${d.grpcTarget}`), FLOOD, 'PRI * HTTP/2.0\r\n');
    const text = await scrape(d.metricsBase);
    assert.ok(alive(), `vigild died: ${d.stderr()}`);
    const open = sampleValue(text, 'vigil_connections_open{listener="otlp_grpc"}')!;
    assert.ok(open <= GRPC_MAX_CONNECTIONS, `${open} connections held, cap ${GRPC_MAX_CONNECTIONS}`);
    assert.ok(sampleValue(text, 'vigil_connections_refused_total{listener="otlp_grpc",reason="max_connections"}')! > 0, 'refusals counted');
    for (const s of sockets) s.destroy();
    await servesEverything('grpc');
  });

  it('on Prometheus (partial headers): no crash, at most max_connections held, serving after', { timeout: 90_000 }, async () => {
    const sockets = await flood(portOf(d.metricsBase), FLOOD, 'GET /metrics HTTP/1.1\r\nHost: x\r\n');
    assert.ok(alive(), `vigild died: ${d.stderr()}`);
    for (const s of sockets) s.destroy();
    const text = await pollUntil('a scrape after the flood', 20_000, () => scrape(d.metricsBase));
    assert.ok(sampleValue(text, 'vigil_connections_refused_total{listener="prometheus",reason="max_connections"}')! > 0, 'refusals counted');
    await servesEverything('prometheus');
  });

  // uWebSockets.js has no accept hook and no connection cap: the flood takes every descriptor
  // left, and the daemon must live through being out of them (the EMFILE that killed it).
  for (const [name, base, partial] of [
    ['OTLP/HTTP', () => d.otlpHttpBase, 'POST /v1/metrics HTTP/1.1\r\nHost: x\r\n'],
    ['the status page', () => d.statusBase, 'GET / HTTP/1.1\r\nHost: x\r\n'],
  ] as const) {
    it(`on ${name} (partial headers; no cap possible): no crash while out of descriptors, serving after`, { timeout: 90_000 }, async () => {
      const sockets = await flood(portOf(base()), FLOOD, partial);
      // Out of descriptors for a while: the memory guard samples every 250 ms meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(alive(), `vigild died: ${d.stderr()}`);
      for (const s of sockets) s.destroy();
      await servesEverything(name.replace(/\W/g, '_'));
      assert.ok(alive());
    });
  }
});

/** Sends `first`, then `next()` every `everyMs` until the server closes; resolves with the time it stayed open. */
function slowClient(port: number, first: string, next: () => string, everyMs: number, giveUpMs: number): Promise<number> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(first));
    socket.on('error', () => {});
    const trickle = setInterval(() => socket.writable && socket.write(next()), everyMs);
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on('close', () => {
      clearInterval(trickle);
      clearTimeout(giveUp);
      resolve(Date.now() - started);
    });
  });
}

describe('slow clients (slowloris)', () => {
  const header = (): string => `X-Slow: ${Date.now()}\r\n`;

  it('are closed by each listener: Prometheus and gRPC by their timeouts, the uWS listeners by uWS (~10 s)', { timeout: 60_000 }, async () => {
    const before = await scrape(d.metricsBase);
    const [prometheus, grpc, otlpHttp, statusPage] = await Promise.all([
      slowClient(portOf(d.metricsBase), 'GET /metrics HTTP/1.1\r\n', header, 500, 30_000),
      // One preface byte at a time: the preface never completes in time.
      slowClient(portOf(`http://${d.grpcTarget}`), 'P', () => '', 500, 30_000),
      slowClient(portOf(d.otlpHttpBase), 'POST /v1/metrics HTTP/1.1\r\n', header, 1000, 30_000),
      slowClient(portOf(d.statusBase), 'GET / HTTP/1.1\r\n', header, 1000, 30_000),
    ]);
    assert.ok(prometheus < TIMEOUT_MS + 2000, `Prometheus kept a slow client ${prometheus} ms (header_timeout ${TIMEOUT_MS} ms)`);
    assert.ok(grpc < TIMEOUT_MS + 2000, `gRPC kept an unfinished preface ${grpc} ms (handshake_timeout ${TIMEOUT_MS} ms)`);
    assert.ok(otlpHttp < 15_000, `OTLP/HTTP kept a slow client ${otlpHttp} ms`);
    assert.ok(statusPage < 15_000, `the status page kept a slow client ${statusPage} ms`);
    const text = await scrape(d.metricsBase);
    const grew = (series: string): number => (sampleValue(text, series) ?? 0) - (sampleValue(before, series) ?? 0);
    assert.ok(grew('vigil_connections_timed_out_total{listener="prometheus",phase="headers"}') >= 1);
    assert.ok(grew('vigil_connections_timed_out_total{listener="otlp_grpc",phase="handshake"}') >= 1);
  });
});
