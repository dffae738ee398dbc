// A real Alertmanager (Debian's prometheus-alertmanager) for end-to-end tests: loopback port,
// temporary storage, clustering off (--cluster.listen-address=), one receiver that goes nowhere.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPeerProcess } from './peer-process.js';
import { freePort } from './wait.js';

/** The binary's name in Debian's package. */
export const ALERTMANAGER_BIN = 'prometheus-alertmanager';

/** True when Alertmanager is installed. */
export const HAVE_ALERTMANAGER = spawnSync(ALERTMANAGER_BIN, ['--version'], { stdio: 'ignore' }).error === undefined;

/** An alert as GET /api/v2/alerts returns it. */
export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL?: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed' };
}

/** A running Alertmanager. */
export interface TestAlertmanager {
  /** http://127.0.0.1:port */
  base: string;
  port: number;
  /** GET /api/v2/alerts. */
  alerts(): Promise<GettableAlert[]>;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and removes its storage. Idempotent. */
  stop(): Promise<void>;
}

/** Starts Alertmanager on `port` (default: a free one) with `configText` (default: one receiver that goes nowhere), ready when /-/ready answers 200. */
export async function startAlertmanager(port?: number, configText?: string): Promise<TestAlertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-alertmanager-'));
  const listen = port ?? (await freePort());
  const base = `http://127.0.0.1:${listen}`;
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, configText ?? ['route:', '  receiver: nowhere', 'receivers:', '  - name: nowhere', ''].join('\n'));
  const peer = await startPeerProcess(
    'Alertmanager',
    ALERTMANAGER_BIN,
    [`--config.file=${configFile}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${listen}`, '--cluster.listen-address=', '--log.level=warn'],
    base,
    () => rmSync(dir, { recursive: true, force: true }),
  );
  return {
    base,
    port: listen,
    async alerts() {
      const res = await fetch(`${base}/api/v2/alerts`);
      if (res.status !== 200) throw new Error(`GET /api/v2/alerts answered ${res.status}`);
      return (await res.json()) as GettableAlert[];
    },
    stop: peer.stop,
  };
}
