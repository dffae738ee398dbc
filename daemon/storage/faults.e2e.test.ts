// Faults of the data dir under a running vigild (issue 15): the disk fills up during SLO flushes and
// admin API writes, the data dir is made read-only, or it is removed. Real files on a real tmpfs
// mounted for the test (so these need root; they skip with a message otherwise), a child vigild, the
// OpenTelemetry trace SDK as the client. What must hold: every failure counted
// (vigil_storage_write_failures_total), one log line per change of state (not one per flush),
// ingest and scrapes keep working, admin changes are refused with 503 (never a 201 that is lost),
// /-/ready is 503 with the reason, and once the disk takes writes again everything is written:
// the monthly report then counts every span sent, in whole events.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { scrape, spawnDaemon } from '../../test-support/daemon.js';
import type { ChildDaemon } from '../../test-support/daemon.js';
import { pollUntil } from '../../test-support/wait.js';
import { StatusStore } from '../../exporters/status/store.js';

const TOKEN = 'faults-admin-token-0123456789';
const CONFIG = `
log: { level: info }
status: { admin_tokens: [${TOKEN}] }
slo: { timezone: UTC }
components:
  - { id: api, name: API }
slos:
  - id: api-availability
    component: api
    objective: 99
    window: 30d
    indicator: { availability: { spans: { service: checkout } } }
heartbeats:
  - { id: nightly, component: api, key: faults-heartbeat-key-0123, schedule: { every: 1h } }
`;
const PING_KEY = 'faults-heartbeat-key-0123';

/** Why these tests cannot run here, or null: they mount a tmpfs. */
function cannotMount(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs as the data dir (run the suite as root, as CI does)';
  const probe = mkdtempSync(join(tmpdir(), 'vigil-mount-probe-'));
  try {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { encoding: 'utf8' });
    if (r.status !== 0) return `cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim()})`;
    spawnSync('umount', [probe]);
    return null;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const SKIP = cannotMount();
if (SKIP !== null) process.stderr.write(`storage faults e2e skipped: ${SKIP}\n`);

function mount(dir: string, options: string): void {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount: ${r.stderr}`);
}

/** Writes zeros to `file` until the file system is full; returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(16 * 1024);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return written;
}

/** A tracer sending SERVER spans of service checkout to the daemon (the real SDK over OTLP/gRPC). */
function tracerFor(grpcTarget: string) {
  const exporter = new OTLPTraceExporter({ url: `http://${grpcTarget}` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout' }),
    spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: 100_000, maxExportBatchSize: 500, scheduledDelayMillis: 20 })],
  });
  return { provider, tracer: provider.getTracer('faults-e2e') };
}

/**
 * Sends `count` spans, `errors` of them failed, ending 3 minutes ago: inside the SLO's late-event
 * window, so they count in their own (whole, past) minute and a report generated now includes them.
 */
async function sendSpans(grpcTarget: string, count: number, errors: number): Promise<void> {
  const { provider, tracer } = tracerFor(grpcTarget);
  const end = Math.floor(Date.now() / 60_000) * 60_000 - 3 * 60_000 + 1000;
  for (let i = 0; i < count; i++) {
    const s = tracer.startSpan('POST /pay', { kind: SpanKind.SERVER, startTime: end - 20 });
    if (i < errors) s.setStatus({ code: SpanStatusCode.ERROR });
    s.end(end);
  }
  await provider.forceFlush();
  await provider.shutdown();
}

function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}

async function ready(d: ChildDaemon): Promise<{ status: number; body: string }> {
  const res = await fetch(`${d.metricsBase}/-/ready`);
  return { status: res.status, body: await res.text() };
}

function admin(d: ChildDaemon, body: unknown): Promise<Response> {
  return fetch(`${d.statusBase}/api/admin/incidents`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Names of the incidents in the data dir's database (read-only, as `vigil report` reads it). */
function storedIncidents(dataDir: string): string[] {
  const store = StatusStore.open({ dataDir, readOnly: true });
  try {
    return store.incidents().map((i) => i.name).sort();
  } finally {
    store.close();
  }
}

/** Log lines (JSON, stdout) whose message contains `text`. */
function logLines(d: ChildDaemon, text: string): { msg: string; writer?: string; fault?: string }[] {
  return d.stdout().split('\n').filter((l) => l.includes(text)).map((l) => JSON.parse(l) as { msg: string; writer?: string; fault?: string });
}

describe('the data dir fills up while vigild runs (tmpfs)', { skip: SKIP ?? false }, () => {
  let root: string;
  let mnt: string;
  let daemon: ChildDaemon;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'vigil-full-'));
    mnt = join(root, 'mnt');
    mkdirSync(mnt);
    mount(mnt, 'size=3m');
    writeFileSync(join(root, 'vigil.yaml'), CONFIG);
    daemon = await spawnDaemon(['--config', join(root, 'vigil.yaml')], join(mnt, 'data'));
  });
  after(async () => {
    daemon?.child.kill('SIGKILL');
    await daemon?.exited;
    spawnSync('umount', ['-l', mnt]);
    rmSync(root, { recursive: true, force: true });
  });

  it('counts and logs once, keeps ingesting and scraping, refuses admin writes with 503, then writes everything once space is back', { timeout: 90_000 }, async () => {
    const filler = join(mnt, 'filler');
    await sendSpans(daemon.grpcTarget, 1000, 20);
    fill(filler);
    // Ingest keeps working on a full disk: the spans are acknowledged and counted in memory.
    await sendSpans(daemon.grpcTarget, 1000, 20);
    const failing = await pollUntil('SLO flushes failing on the full disk', 20_000, async () => {
      const text = await scrape(daemon.metricsBase);
      const n = sample(text, 'vigil_storage_write_failures_total{writer="slo_flush",reason="disk_full"}') ?? 0;
      return n >= 3 ? text : undefined;
    });
    assert.equal(sample(failing, 'vigil_storage_writable'), 0);
    assert.ok((sample(failing, 'vigil_spans_accepted_total') ?? 0) >= 2000 || failing.includes('vigil_spans_accepted_total'), 'scrapes still answer');
    const r = await ready(daemon);
    assert.equal(r.status, 503);
    assert.match(r.body, /not ready: storage: the disk is full/);
    // An admin change is refused (and not applied): never a 201 that a restart would lose.
    const refused = await admin(daemon, { name: 'While full', message: 'x', components: { api: 'partial_outage' } });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '30');
    const refusedBody = (await refused.json()) as { code: string; reason: string; error: string };
    assert.equal(refusedBody.code, 'VIGIL_STORAGE_UNAVAILABLE');
    assert.equal(refusedBody.reason, 'disk_full');
    const summary = (await (await fetch(`${daemon.statusBase}/api/v2/incidents.json`)).json()) as { incidents: { name: string }[] };
    assert.ok(!summary.incidents.some((i) => i.name === 'While full'), 'the refused incident was not applied in memory');
    // Several failed flushes (one a second), one log line for the slo_flush writer.
    const counted = sample(await scrape(daemon.metricsBase), 'vigil_storage_write_failures_total{writer="slo_flush",reason="disk_full"}')!;
    assert.ok(counted >= 3);
    assert.equal(logLines(daemon, 'slo_flush cannot write').length, 1, 'one log line per state change, not per flush');
    // A heartbeat ping is answered (the run is counted in memory); its state write fails, counted.
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${daemon.statusBase}/ping/${PING_KEY}`)).status, 200);
    const pinged = await scrape(daemon.metricsBase);
    assert.ok((sample(pinged, 'vigil_storage_write_failures_total{writer="heartbeat",reason="disk_full"}') ?? 0) >= 1, 'heartbeat state writes counted');
    assert.equal(logLines(daemon, 'heartbeat cannot write').length, 1, 'one log line for the heartbeat writer');

    unlinkSync(filler);
    // Failed flushes are retried 1, 2, 4… up to 30 s apart (FLUSH_RETRY_MAX_MS).
    await pollUntil('the data dir writable again', 40_000, async () => (sample(await scrape(daemon.metricsBase), 'vigil_storage_writable') === 1 ? true : undefined));
    assert.equal((await ready(daemon)).status, 200);
    assert.equal(logLines(daemon, 'slo_flush writes to').length, 1, 'one log line when it recovers');
    assert.equal((await fetch(`${daemon.statusBase}/ping/${PING_KEY}`)).status, 200);
    await pollUntil('the heartbeat state written again', 10_000, async () => (logLines(daemon, 'heartbeat writes to').length === 1 ? true : undefined));
    const created = await admin(daemon, { name: 'After', message: 'y', components: { api: 'partial_outage' } });
    assert.equal(created.status, 201);

    // Everything acknowledged is on disk: stop, then the report (from the files alone) counts it all.
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
    const month = new Date().toISOString().slice(0, 7);
    const run = spawnSync(process.execPath, ['bin/vigil.js', 'report', '--config', join(root, 'vigil.yaml'), '--data-dir', join(mnt, 'data'), '--month', month, '--format', 'json'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { slos: { good: number; total: number }[] };
    assert.equal(report.slos[0]!.total, 2000);
    assert.equal(report.slos[0]!.good, 1960);
    assert.ok(existsSync(join(mnt, 'data', 'vigil.db')));
  });
});

/** Why the read-only test cannot run here, or null: it needs an ext4 image on a loop device. */
function cannotLoopExt4(): string | null {
  if (SKIP !== null) return SKIP;
  if (spawnSync('mkfs.ext4', ['-V']).error) return 'mkfs.ext4 (e2fsprogs) is not installed';
  if (!existsSync('/dev/loop-control')) return 'no loop devices (/dev/loop-control)';
  return null;
}
const SKIP_EXT4 = cannotLoopExt4();
if (SKIP_EXT4 !== null && SKIP === null) process.stderr.write(`storage read-only e2e skipped: ${SKIP_EXT4}\n`);

describe('the data dir turns read-only while vigild runs (ext4 remounted read-only after an error)', { skip: SKIP_EXT4 ?? false }, () => {
  let root: string;
  let mnt: string;
  let daemon: ChildDaemon;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'vigil-ro-'));
    mnt = join(root, 'mnt');
    mkdirSync(mnt);
    const image = join(root, 'fs.img');
    assert.equal(spawnSync('truncate', ['-s', '32M', image]).status, 0);
    assert.equal(spawnSync('mkfs.ext4', ['-q', '-F', image]).status, 0);
    // errors=remount-ro: what a production ext4 does on an I/O error; a remount by hand is refused
    // while files are open for writing, so the test triggers a file system error instead.
    const r = spawnSync('mount', ['-o', 'loop,errors=remount-ro', image, mnt], { encoding: 'utf8' });
    assert.equal(r.status, 0, `mount: ${r.stderr}`);
    writeFileSync(join(root, 'vigil.yaml'), CONFIG);
    daemon = await spawnDaemon(['--config', join(root, 'vigil.yaml')], join(mnt, 'data'));
  });
  after(async () => {
    daemon?.child.kill('SIGKILL');
    await daemon?.exited;
    for (let i = 0; i < 3; i++) spawnSync('umount', ['-l', mnt]);
    rmSync(root, { recursive: true, force: true });
  });

  it('503 on /-/ready with the reason, counted, logged once, admin writes refused; a new data dir mounted there: written again, nothing lost', { timeout: 90_000 }, async () => {
    await sendSpans(daemon.grpcTarget, 500, 5);
    assert.equal((await admin(daemon, { name: 'Before', message: 'a', components: { api: 'degraded_performance' } })).status, 201);
    const device = spawnSync('findmnt', ['-n', '-o', 'SOURCE', mnt], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(`/sys/fs/ext4/${device.replace('/dev/', '')}/trigger_fs_error`, '1');
    await sendSpans(daemon.grpcTarget, 500, 5);
    const r = await pollUntil('/-/ready 503 for the read-only data dir', 20_000, async () => {
      const x = await ready(daemon);
      return x.status === 503 ? x : undefined;
    });
    assert.match(r.body, /not ready: storage: the data dir is read-only/);
    const refused = await admin(daemon, { name: 'While read-only', message: 'b' });
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { reason: string }).reason, 'read_only');
    await pollUntil('several flushes refused', 10_000, async () => ((sample(await scrape(daemon.metricsBase), 'vigil_storage_write_failures_total{writer="slo_flush",reason="read_only"}') ?? 0) >= 3 ? true : undefined));
    const text = await scrape(daemon.metricsBase);
    assert.equal(sample(text, 'vigil_storage_writable'), 0);
    assert.equal(logLines(daemon, 'slo_flush cannot write').length, 1, 'one log line per state change, not per flush');
    // The operator replaces the broken file system (here: a fresh tmpfs where it was).
    assert.equal(spawnSync('umount', ['-l', mnt]).status, 0);
    mount(mnt, 'size=8m');
    mkdirSync(join(mnt, 'data'));
    // Failed flushes are retried 1, 2, 4… up to 30 s apart (FLUSH_RETRY_MAX_MS).
    await pollUntil('ready again once the data dir is back', 40_000, async () => ((await ready(daemon)).status === 200 ? true : undefined));
    assert.equal(logLines(daemon, 'was written there again').length, 1);
    assert.equal((await admin(daemon, { name: 'After', message: 'c' })).status, 201);
    await pollUntil('the held minutes flushed', 10_000, async () => (sample(await scrape(daemon.metricsBase), 'vigil_storage_writable') === 1 ? true : undefined));
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
    const month = new Date().toISOString().slice(0, 7);
    const run = spawnSync(process.execPath, ['bin/vigil.js', 'report', '--config', join(root, 'vigil.yaml'), '--data-dir', join(mnt, 'data'), '--month', month, '--format', 'json'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { slos: { good: number; total: number }[] };
    assert.deepEqual([report.slos[0]!.good, report.slos[0]!.total], [990, 1000]);
    assert.deepEqual(storedIncidents(join(mnt, 'data')), ['After', 'Before']);
  });
});

describe('the data dir is removed while vigild runs (tmpfs)', { skip: SKIP ?? false }, () => {
  let root: string;
  let mnt: string;
  let dataDir: string;
  let daemon: ChildDaemon;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'vigil-rm-'));
    mnt = join(root, 'mnt');
    mkdirSync(mnt);
    mount(mnt, 'size=8m');
    dataDir = join(mnt, 'data');
    writeFileSync(join(root, 'vigil.yaml'), CONFIG);
    daemon = await spawnDaemon(['--config', join(root, 'vigil.yaml')], dataDir);
  });
  after(async () => {
    daemon?.child.kill('SIGKILL');
    await daemon?.exited;
    spawnSync('umount', ['-l', mnt]);
    rmSync(root, { recursive: true, force: true });
  });

  it('503 with the reason; once the directory is back the database is written there again, nothing lost', { timeout: 60_000 }, async () => {
    await sendSpans(daemon.grpcTarget, 500, 5);
    assert.equal((await admin(daemon, { name: 'Before', message: 'a' })).status, 201);
    rmSync(dataDir, { recursive: true, force: true });
    const r = await pollUntil('/-/ready 503 for the removed data dir', 20_000, async () => {
      const x = await ready(daemon);
      return x.status === 503 ? x : undefined;
    });
    assert.match(r.body, /not ready: storage: the data dir or its database was removed/);
    assert.ok((sample(await scrape(daemon.metricsBase), 'vigil_storage_write_failures_total{writer="probe",reason="removed"}') ?? 0) >= 1);
    // Ingest goes on meanwhile (SQLite still writes the removed file, open).
    await sendSpans(daemon.grpcTarget, 1000, 10);
    mkdirSync(dataDir);
    // Failed flushes are retried 1, 2, 4… up to 30 s apart (FLUSH_RETRY_MAX_MS).
    await pollUntil('ready again once the directory is back', 40_000, async () => ((await ready(daemon)).status === 200 ? true : undefined));
    assert.ok(existsSync(join(dataDir, 'vigil.db')), 'the database was written again');
    assert.equal(logLines(daemon, 'was written there again').length, 1);
    assert.equal((await admin(daemon, { name: 'After removal', message: 'd' })).status, 201);
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
    const month = new Date().toISOString().slice(0, 7);
    const run = spawnSync(process.execPath, ['bin/vigil.js', 'report', '--config', join(root, 'vigil.yaml'), '--data-dir', dataDir, '--month', month, '--format', 'json'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { slos: { good: number; total: number }[] };
    assert.deepEqual([report.slos[0]!.good, report.slos[0]!.total], [1485, 1500]);
    assert.deepEqual(storedIncidents(dataDir), ['After removal', 'Before']);
  });
});
