// Probes: synthetic HTTP(S), TCP, TLS, DNS and gRPC health checks run on a schedule; each result is
// one SLI event of the probe's SLOs, and blackbox_exporter-named metrics (README.md).

import type { Logger } from 'pino';
import type { FamilyView } from '../../daemon/model/read-model.js';
import type { PercentileDefaults } from '../../daemon/percentiles/index.js';
import { ProbeCollector } from './collector.js';
import type { PinnedStatus, ProbeSlo, ProbeSloSink } from './collector.js';
import type { ProbeConfig } from './types.js';

/** What the daemon gives the collector. */
export interface ProbesSettings {
  probes: readonly ProbeConfig[];
  /** Every SLO of the config; those with a probe indicator are fed. */
  slos: readonly { id: string; indicator: { type: string; probe?: string; thresholdSeconds?: number } }[];
  /** The SLO engine (its public record and overrideStatus), or null to run probes without SLOs. */
  sink: ProbeSloSink | null;
  percentiles: PercentileDefaults;
  logger?: Logger;
}

/** The running collector: one lifecycle, and its families for /metrics and remote_write. */
export interface Probes {
  start(): void;
  /** Stops scheduling; waits for runs in flight until `deadlineMs` (epoch ms). Idempotent, safe without start. */
  shutdown(deadlineMs?: number): Promise<void>;
  /** The probe families for the read model (a MetricsSource of the gatherer). */
  collect(): FamilyView[];
  /** Runs skipped because the previous run of the same probe was still going, and slots missed in a stall. */
  stats(): { skipped: number; missed: number; inFlight: number };
  /** Per-probe state (tests, the bench): runs started, successes, failures, confirmed state, whether one is running now. */
  states(): { id: string; component: string; runs: number; successes: number; failures: number; confirmed: 'up' | 'down' | null; running: boolean; lastError: string | null }[];
}

/** Builds the probes collector; nothing runs before start(). */
function createProbes(settings: ProbesSettings): Probes {
  const slos: ProbeSlo[] = [];
  for (const s of settings.slos) {
    const ind = s.indicator;
    if (ind.type === 'probe_availability' && ind.probe !== undefined) slos.push({ id: s.id, probe: ind.probe, thresholdSeconds: null });
    if (ind.type === 'probe_latency' && ind.probe !== undefined) slos.push({ id: s.id, probe: ind.probe, thresholdSeconds: ind.thresholdSeconds ?? 0 });
  }
  const collector = new ProbeCollector({
    probes: settings.probes,
    slos,
    sink: settings.sink,
    percentiles: settings.percentiles,
    ...(settings.logger === undefined ? {} : { logger: settings.logger }),
  });
  return {
    start: () => collector.start(),
    shutdown: (deadlineMs) => collector.shutdown(deadlineMs),
    collect: () => collector.collect(),
    stats: () => ({ skipped: collector.skipped, missed: collector.missed, inFlight: collector.inFlight }),
    states: () =>
      collector.probes.map((p) => ({
        id: p.config.id,
        component: p.config.component,
        runs: p.runs,
        successes: p.successes,
        failures: p.failures,
        confirmed: p.confirmed,
        running: p.running,
        lastError: p.last?.error ?? null,
      })),
  };
}

export { createProbes };
export { probesSchema, probeCrossCheck, PROBE_DEFAULTS } from './config.js';
export type { ProbeConfig as ProbesConfig, PinnedStatus, ProbeSloSink };
