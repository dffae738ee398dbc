// Helpers for end-to-end tests: a daemon in this process or in a child process, on port 0,
// with a temporary data directory, and a scrape helper.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { defaultConfig } from '../daemon/config/index.js';
import type { Config } from '../daemon/config/types.js';
import { startDaemon } from '../daemon/vigild.js';
import type { Daemon } from '../daemon/vigild.js';

/** A daemon started for a test. */
export interface TestDaemon {
  daemon: Daemon;
  /** host:port of the OTLP/gRPC receiver. */
  grpcTarget: string;
  /** http://host:port of the OTLP/HTTP receiver (POST /v1/metrics, /v1/traces). */
  otlpHttpBase: string;
  /** http://host:port of the Prometheus endpoint. */
  metricsBase: string;
  /** http://host:port of the status page (/, /api/v2/*, /api/admin/*, /ws). */
  statusBase: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** The default config for an in-process test daemon: ephemeral ports, `dataDir`, silent, one worker. */
export function testConfig(dataDir: string): Config {
  const config = defaultConfig();
  config.otlp.grpc.port = 0;
  config.otlp.http.port = 0;
  config.prometheus.port = 0;
  config.status.port = 0;
  config.storage.dataDir = dataDir;
  config.log.level = 'silent';
  config.workers.threads = 1;
  return config;
}

/** Starts vigild in this process on ephemeral ports; `tune` edits the default config first. */
export async function startTestDaemon(tune: (config: Config) => void = () => {}): Promise<TestDaemon> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-test-'));
  const config = testConfig(dataDir);
  tune(config);
  let daemon: Daemon;
  try {
    daemon = await startDaemon(config);
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const { otlpGrpc, otlpHttp, prometheus, status } = daemon.addresses;
  return {
    daemon,
    grpcTarget: `${otlpGrpc.host}:${otlpGrpc.port}`,
    otlpHttpBase: `http://${otlpHttp.host}:${otlpHttp.port}`,
    metricsBase: `http://${prometheus.host}:${prometheus.port}`,
    statusBase: `http://${status.host}:${status.port}`,
    dataDir,
    async stop() {
      await daemon.shutdown('test done');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** GETs /metrics; `accept` picks the format. */
export async function scrape(metricsBase: string, accept = 'text/plain;version=0.0.4'): Promise<string> {
  const res = await fetch(`${metricsBase}/metrics`, { headers: { accept } });
  if (res.status !== 200) throw new Error(`scrape answered ${res.status}: ${await res.text()}`);
  return res.text();
}

/** The value of the first sample line exactly matching `series` (name plus label text), or undefined. */
export function sampleValue(exposition: string, series: string): number | undefined {
  for (const line of exposition.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1).split(' ')[0]);
  }
  return undefined;
}

/** Sum of every sample of `name` (any labels). */
export function sumSamples(exposition: string, name: string): number {
  let total = 0;
  for (const line of exposition.split('\n')) {
    if (line.startsWith(name + ' ') || line.startsWith(name + '{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** A vigild child process (for signals and crashes). */
export interface ChildDaemon {
  child: ChildProcess;
  grpcTarget: string;
  otlpHttpBase: string;
  metricsBase: string;
  /** http://host:port of the status page. */
  statusBase: string;
  dataDir: string;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  stderr(): string;
  /** Everything written to stdout so far (the JSON log lines). */
  stdout(): string;
}

/** Spawns `node bin/vigil.js start` on ephemeral ports and waits for its "vigild started" log line. */
export async function spawnDaemon(
  extraArgs: string[] = [],
  dataDir = mkdtempSync(join(tmpdir(), 'vigil-child-')),
  env: NodeJS.ProcessEnv = process.env,
): Promise<ChildDaemon> {
  const child = spawn(process.execPath, ['bin/vigil.js', 'start', '--otlp-grpc', '127.0.0.1:0', '--otlp-http', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--status', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let errText = '';
  child.stderr!.on('data', (d: Buffer) => (errText += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let outText = '';
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => (outText += `${line}\n`));
  type Address = { host: string; port: number };
  const started = await new Promise<{ otlpGrpc: Address; otlpHttp: Address; prometheus: Address; status: Address }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vigild did not start in 15 s: ${errText}`)), 15_000);
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; otlpGrpc?: Address; otlpHttp?: Address; prometheus?: Address; status?: Address };
        if (entry.msg === 'vigild started' && entry.otlpGrpc && entry.otlpHttp && entry.prometheus && entry.status) {
          clearTimeout(timer);
          resolve({ otlpGrpc: entry.otlpGrpc, otlpHttp: entry.otlpHttp, prometheus: entry.prometheus, status: entry.status });
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`vigild exited with ${code} before starting: ${errText}`)));
  });
  return {
    child,
    grpcTarget: `${started.otlpGrpc.host}:${started.otlpGrpc.port}`,
    otlpHttpBase: `http://${started.otlpHttp.host}:${started.otlpHttp.port}`,
    metricsBase: `http://${started.prometheus.host}:${started.prometheus.port}`,
    statusBase: `http://${started.status.host}:${started.status.port}`,
    dataDir,
    exited,
    stderr: () => errText,
    stdout: () => outText,
  };
}
