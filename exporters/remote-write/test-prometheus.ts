// Test support: a real Prometheus (Debian's 2.42) as a remote-write receiver, which can be stopped
// and started again on the same port and data directory (for outage tests), and PromQL helpers.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil } from '../../test-support/wait.js';

/** The flags the tests run the receiver with (docs/remote-write.md explains each). */
export const RECEIVER_FLAGS = ['--web.enable-remote-write-receiver', '--enable-feature=native-histograms,exemplar-storage'];

/** A Prometheus receiving remote writes. */
export interface ReceivingPrometheus {
  base: string;
  /** The remote-write URL. */
  writeUrl: string;
  /** Starts (again) on the same port and data. */
  start(): Promise<void>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
  /** Everything it logged. */
  log(): string;
}

/** A Prometheus on 127.0.0.1:`port` keeping its TSDB in `dir`; not started yet. */
export function receivingPrometheus(dir: string, port: number, flags: string[] = RECEIVER_FLAGS): ReceivingPrometheus {
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, 'global:\n  scrape_interval: 15s\n');
  const base = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let text = '';
  return {
    base,
    writeUrl: `${base}/api/v1/write`,
    log: () => text,
    async start() {
      child = spawn('prometheus', [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
      const c = child;
      c.stdout!.on('data', (d: Buffer) => (text += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (text += d.toString()));
      exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      await pollUntil('Prometheus to be ready', 30_000, async () => {
        if (c.exitCode !== null) throw new Error(`prometheus exited with ${c.exitCode}: ${text}`);
        try {
          const res = await fetch(`${base}/-/ready`);
          await res.arrayBuffer();
          return res.status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      });
    },
    async stop() {
      const c = child;
      if (c === null || c.exitCode !== null || c.signalCode !== null) return;
      c.kill('SIGTERM');
      const killer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** An instant PromQL query's vector result. */
export async function query(base: string, promql: string, atSeconds?: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const at = atSeconds === undefined ? '' : `&time=${atSeconds}`;
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}${at}`);
  const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
  return body.data.result;
}

/** The raw samples of a range selector (`metric[5m]`): timestamps in ms and values. */
export async function rawSamples(base: string, selector: string, atSeconds: number): Promise<{ metric: Record<string, string>; values: [number, number][] }[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(selector)}&time=${atSeconds}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
  if (body.status !== 'success') throw new Error(`${selector}: ${body.error}`);
  return body.data.result.map((r) => ({ metric: r.metric, values: r.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number]) }));
}
