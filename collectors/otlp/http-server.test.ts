// The OTLP/HTTP receiver on its own: lifecycle (drain → 503 + Retry-After, in-flight requests
// finish, then the port closes), budget bookkeeping when clients go away, and proof that
// uWebSockets.js runs its native binary (and that vigild refuses the pure-JS fallback).

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteBudget } from './admission.js';
import { HttpReceiver } from './http-server.js';
import type { IngestOutcome, IngestSink } from './types.js';
import { loadUws, nativeBinaryName } from './uws.js';
import { spawnDaemon } from '../../test-support/daemon.js';
import { counterRequest } from '../../test-support/otlp-proto.js';

const PROTOBUF = { 'content-type': 'application/x-protobuf' };

/** A sink whose answers the test releases one by one. */
function gatedSink(): { sink: IngestSink; arrived: Promise<void>; release: () => void; calls: number } {
  let release!: () => void;
  let arrive!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const state = {
    calls: 0,
    arrived: new Promise<void>((r) => (arrive = r)),
    release: () => release(),
    sink: async (): Promise<IngestOutcome> => {
      state.calls++;
      arrive();
      await gate;
      return { rejected: 0, message: '' };
    },
  };
  return state;
}

describe('HttpReceiver lifecycle', () => {
  it('shutdown is idempotent and safe without start', async () => {
    const receiver = new HttpReceiver({ host: '127.0.0.1', port: 0, maxMessageBytes: 1024, budget: new ByteBudget(4096), sink: gatedSink().sink });
    await receiver.shutdown(100);
    await receiver.shutdown(100);
    await assert.rejects(receiver.start(), /shut down/);
  });

  it('drains: new requests get 503 + Retry-After, the in-flight one finishes, then the port closes', { timeout: 15_000 }, async () => {
    const budget = new ByteBudget(1 << 20);
    const gated = gatedSink();
    const done: number[] = [];
    const receiver = new HttpReceiver({ host: '127.0.0.1', port: 0, maxMessageBytes: 1 << 16, budget, sink: gated.sink, onRequestDone: (_s, code) => done.push(code) });
    await receiver.start();
    const base = `http://127.0.0.1:${receiver.address().port}/v1/metrics`;
    const body = new Uint8Array(counterRequest({ name: 'drain.test', value: 1 }));
    const inFlight = fetch(base, { method: 'POST', headers: PROTOBUF, body });
    await gated.arrived;
    assert.equal(receiver.inFlight, 1);
    assert.equal(budget.inUse, body.length, 'the in-flight request holds its bytes');

    const stopped = receiver.shutdown(10_000);
    const refused = await fetch(base, { method: 'POST', headers: PROTOBUF, body });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    await refused.arrayBuffer();

    gated.release();
    const answer = await inFlight;
    assert.equal(answer.status, 200, 'the in-flight request is answered');
    await answer.arrayBuffer();
    await stopped;
    assert.equal(budget.inUse, 0);
    assert.deepEqual(done.sort(), [200, 503]);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const socket = connect(receiver.address().port, '127.0.0.1', () => resolve(socket.end()));
        socket.on('error', reject);
      }),
      /ECONNREFUSED/,
      'the port is closed after the drain',
    );
  });

  it('releases the budget when a client goes away mid-body, and keeps serving', { timeout: 15_000 }, async () => {
    const budget = new ByteBudget(1 << 20);
    const receiver = new HttpReceiver({ host: '127.0.0.1', port: 0, maxMessageBytes: 1 << 16, budget, sink: async () => ({ rejected: 0, message: '' }) });
    await receiver.start();
    after(() => receiver.shutdown(0));
    const { port } = receiver.address();
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n' + 'a'.repeat(10));
        setTimeout(() => {
          assert.equal(budget.inUse, 1000, 'Content-Length is held while the body arrives');
          socket.destroy();
          resolve();
        }, 100);
      });
      socket.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(budget.inUse, 0, 'an aborted request gives its bytes back');
    assert.equal(receiver.inFlight, 0);
    const answer = await fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', headers: PROTOBUF, body: new Uint8Array(counterRequest({ name: 'x', value: 1 })) });
    assert.equal(answer.status, 200);
  });
});

describe('uWebSockets.js native binary', () => {
  it('is the native .node binary for this platform, not the pure-JS fallback', () => {
    const { uws, native, detail } = loadUws();
    assert.equal(native, true, detail);
    assert.ok(detail.endsWith(`/binaries/${nativeBinaryName()}`), detail);
    assert.equal(typeof uws.App, 'function');
    const require = createRequire(import.meta.url);
    assert.equal(require.cache[require.resolve('uWebSockets.js/dist/index.js')], undefined, 'the fallback (dist/index.js) was never loaded');
  });

  it('vigild refuses to start on the fallback (UWS_USE_FALLBACK=1) with VIGIL_UWS_FALLBACK', { timeout: 20_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-uws-'));
    after(() => rmSync(dataDir, { recursive: true, force: true }));
    const child = spawn(process.execPath, ['bin/vigil.js', 'start', '--otlp-grpc', '127.0.0.1:0', '--otlp-http', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--status', '127.0.0.1:0', '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, UWS_USE_FALLBACK: '1', VIGIL_ALLOW_UWS_FALLBACK: '' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /failed to start \(VIGIL_UWS_FALLBACK\): uWebSockets\.js is running its slow pure-JS fallback \(UWS_USE_FALLBACK is set\)/);
  });

  it('vigild runs on the fallback only when VIGIL_ALLOW_UWS_FALLBACK=1, and says so', { timeout: 20_000 }, async () => {
    const child = await spawnDaemon([], undefined, { ...process.env, UWS_USE_FALLBACK: '1', VIGIL_ALLOW_UWS_FALLBACK: '1' });
    try {
      const answer = await fetch(`${child.otlpHttpBase}/v1/metrics`, { method: 'POST', headers: PROTOBUF, body: new Uint8Array(counterRequest({ name: 'on.fallback', value: 1 })) });
      assert.equal(answer.status, 200);
    } finally {
      child.child.kill('SIGTERM');
      await child.exited;
      rmSync(child.dataDir, { recursive: true, force: true });
    }
    assert.match(child.stdout(), /uWebSockets\.js runs its slow pure-JS fallback/);
  });
});
