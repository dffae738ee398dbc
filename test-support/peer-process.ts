// A peer binary (Prometheus, Alertmanager) run for a test: its output kept for assertion messages,
// ready when its /-/ready answers 200, stopped with SIGTERM (SIGKILL after 5 s).

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { pollUntil } from './wait.js';

/** A running peer process. */
export interface PeerProcess {
  /** Stops it (SIGTERM, SIGKILL after 5 s), then runs the cleanup given at start. Idempotent. */
  stop(): Promise<void>;
  /** What it wrote to stdout and stderr. */
  log(): string;
}

/**
 * Spawns `binary` with `args` and waits up to 20 s for `${base}/-/ready` to answer 200; `name` goes
 * into the error when it exits or never gets ready (it is stopped then). `cleanup` runs after it has
 * exited (removing its data directory, say).
 */
export async function startPeerProcess(name: string, binary: string, args: readonly string[], base: string, cleanup?: () => void): Promise<PeerProcess> {
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
      cleanup?.();
    })();
    return stopped;
  };
  try {
    await pollUntil(`${name} to be ready`, 20_000, async () => {
      if (child.exitCode !== null) throw new Error(`${binary} exited with ${child.exitCode}: ${log}`);
      const res = await fetch(`${base}/-/ready`);
      await res.arrayBuffer();
      return res.status === 200 ? true : undefined;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop, log: () => log };
}
