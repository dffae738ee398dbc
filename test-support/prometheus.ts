// A real Prometheus (Debian's package) scraping a Vigil daemon, for end-to-end tests.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPeerProcess } from './peer-process.js';
import { freePort } from './wait.js';

/** True when a `prometheus` binary is on PATH. */
export const HAVE_PROMETHEUS = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).error === undefined;

/** A running Prometheus. */
export interface TestPrometheus {
  /** http://127.0.0.1:port */
  base: string;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and removes its data. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts Prometheus scraping `target` (host:port, or several: one job, one instance each) every second as job `vigil`, ready when
 * /-/ready answers 200. Vigil aggregates many services: the job/instance labels on its series
 * name the service that pushed them (from service.name/service.instance.id), not the daemon. With
 * the default honor_labels: false, Prometheus would rename them exported_job/exported_instance and
 * stamp every series job="vigil"; like a Pushgateway or federation target, an aggregating daemon
 * is scraped with honor_labels: true. Vigil's own vigil_* series carry no job/instance, so they
 * still get the target's job="vigil".
 */
export async function startPrometheus(target: string | readonly string[], extraArgs: string[] = []): Promise<TestPrometheus> {
  const targets = typeof target === 'string' ? [target] : target;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-prometheus-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: vigil',
    '    honor_labels: true',
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n'));
  const peer = await startPeerProcess(
    'Prometheus',
    'prometheus',
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', ...extraArgs],
    base,
    () => rmSync(dir, { recursive: true, force: true }),
  );
  return { base, stop: peer.stop };
}

/** A Prometheus run on a data directory the test owns (restartable on the same data and port). */
export interface OwnedPrometheus {
  base: string;
  port: number;
  /** Stops the process (SIGTERM, SIGKILL after 5 s); its data directory stays. Idempotent. */
  stop(): Promise<void>;
  /** What it logged (for assertion messages). */
  log(): string;
}

/**
 * Starts Prometheus with the config file `configFile`, TSDB in `dataDir`, on `port` (a free one by
 * default), ready when /-/ready answers 200. Run it again with the same arguments to restart it.
 */
export async function startPrometheusWithConfig(configFile: string, dataDir: string, port?: number, extraArgs: string[] = []): Promise<OwnedPrometheus> {
  const listen = port ?? (await freePort());
  const base = `http://127.0.0.1:${listen}`;
  const peer = await startPeerProcess(
    'Prometheus',
    'prometheus',
    [`--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${listen}`, '--log.level=warn', ...extraArgs],
    base,
  );
  return { base, port: listen, stop: peer.stop, log: peer.log };
}
