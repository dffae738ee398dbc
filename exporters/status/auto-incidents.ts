// Automatic incidents (status.auto_incidents): when a component's page alert fires (an SLO's page
// burn-rate rule, a heartbeat down, a probe confirmed down), open one incident on that component
// with a first update saying what failed, since when, the SLI and the budget left; as a draft unless
// `publish`. Once every alert of the component has been clear for `resolve_after`, post an update
// and resolve it. Never a second incident for a component that has an open one (manual or not).

import type { Logger } from 'pino';
import type { ComponentConfig } from '../../daemon/config/types.js';
import type { SloReport } from '../../daemon/slo/index.js';
import { impactOf } from './admin.js';
import type { ComponentStatus, Incident, StatusStore } from './store.js';

/** One firing alert of a component. */
export interface ComponentAlert {
  component: string;
  /** What fires, stable while it fires: `slo:<id>`, `heartbeat:<id>`, `probe:<id>`. */
  source: string;
  /** What failed, in a few words (the incident's name). */
  title: string;
  /** What failed, since when, the SLI and the budget left (the first update). */
  detail: string;
  /** The status it gives the component on the incident. */
  status: ComponentStatus;
  sinceMs: number;
}

/** Reads what fires now; each source is asked on every evaluation. */
export type AlertSource = () => ComponentAlert[];

/** Settings (status.auto_incidents) and collaborators. */
export interface AutoIncidentsOptions {
  store: StatusStore;
  components: readonly ComponentConfig[];
  sources: readonly AlertSource[];
  /** false: drafts, published by an operator through the admin API. */
  publish: boolean;
  resolveAfterMs: number;
  /** How often the sources are read (status.refresh_interval). */
  intervalMs: number;
  now?: () => number;
  logger?: Logger;
}

/** Opens, updates and resolves automatic incidents. */
export class AutoIncidents {
  readonly #o: AutoIncidentsOptions;
  readonly #now: () => number;
  /** Per component with an open automatic incident: since when its alerts have been clear (null while firing). */
  readonly #clearSince = new Map<string, number | null>();
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(options: AutoIncidentsOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    // After a restart: an incident already in `monitoring` has been clear since that update.
    for (const c of options.components) {
      const open = this.#openAuto(c.id);
      // The newest update's time, not monitoringMs: that one keeps the first time it ever cleared.
      if (open !== undefined) this.#clearSince.set(c.id, open.status === 'monitoring' ? (open.updates[0]?.createdMs ?? open.updatedMs) : null);
    }
  }

  /** Evaluates now and then every interval. */
  start(): void {
    if (this.#timer !== null || this.#stopped) return;
    this.evaluate();
    this.#timer = setInterval(() => this.evaluate(), this.#o.intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer. Idempotent; safe without start. */
  shutdown(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Reads every source once and opens, updates or resolves incidents accordingly. */
  evaluate(): void {
    if (this.#stopped) return;
    const now = this.#now();
    const firing = new Map<string, ComponentAlert[]>();
    for (const source of this.#o.sources) {
      let alerts: ComponentAlert[];
      try {
        alerts = source();
      } catch (err) {
        this.#o.logger?.error({ err }, 'automatic incidents: an alert source failed; skipped this round');
        continue;
      }
      for (const a of alerts) firing.set(a.component, [...(firing.get(a.component) ?? []), a]);
    }
    for (const component of this.#o.components) {
      try {
        this.#evaluateComponent(component, firing.get(component.id) ?? [], now);
      } catch (err) {
        this.#o.logger?.error({ err, component: component.id }, 'automatic incidents: could not change the incident');
      }
    }
  }

  #evaluateComponent(component: ComponentConfig, alerts: ComponentAlert[], now: number): void {
    const store = this.#o.store;
    const open = this.#openAuto(component.id);
    if (alerts.length > 0) {
      if (open !== undefined) {
        if (this.#clearSince.get(component.id) != null) {
          // It cleared, and fires again before resolve_after: back to investigating.
          store.addIncidentUpdate(open.id, { status: 'investigating', message: `The alert fired again at ${iso(now)}.\n\n${alerts.map((a) => a.detail).join('\n\n')}` });
        }
        this.#clearSince.set(component.id, null);
        return;
      }
      // Never a second incident: an open one, by hand or automatic, already speaks for the component.
      if (store.openIncidentsFor(component.id).length > 0) return;
      const status = worst(alerts.map((a) => a.status));
      const components = { [component.id]: status };
      const incident = store.createIncident(
        {
          name: `${component.name}: ${alerts[0]!.title}${alerts.length > 1 ? ` (and ${alerts.length - 1} more)` : ''}`,
          status: 'investigating',
          impact: impactOf(components),
          message: `Opened automatically by Vigil: the page alert of ${component.name} fired at ${iso(Math.min(...alerts.map((a) => a.sinceMs)))}.\n\n${alerts.map((a) => a.detail).join('\n\n')}`,
          components,
        },
        { draft: !this.#o.publish, autoComponent: component.id },
      );
      this.#clearSince.set(component.id, null);
      this.#o.logger?.warn({ component: component.id, incident: incident.id, draft: incident.draft, sources: alerts.map((a) => a.source) }, `automatic incident opened for ${component.id}${incident.draft ? ' (draft: publish it through the admin API)' : ''}`);
      return;
    }
    if (open === undefined) {
      this.#clearSince.delete(component.id);
      return;
    }
    const clearSince = this.#clearSince.get(component.id);
    if (clearSince == null) {
      this.#clearSince.set(component.id, now);
      store.addIncidentUpdate(open.id, {
        status: 'monitoring',
        message: `The alert cleared at ${iso(now)}. Vigil resolves this incident if it stays clear for ${formatDuration(this.#o.resolveAfterMs)}.`,
      });
      return;
    }
    if (now - clearSince >= this.#o.resolveAfterMs) {
      store.addIncidentUpdate(open.id, {
        status: 'resolved',
        message: `Resolved automatically: the alert has been clear since ${iso(clearSince)} (${formatDuration(now - clearSince)}).`,
        components: { [component.id]: 'operational' },
      });
      this.#clearSince.delete(component.id);
      this.#o.logger?.info({ component: component.id, incident: open.id }, `automatic incident for ${component.id} resolved`);
    }
  }

  /** The unresolved automatic incident of a component, draft or published. */
  #openAuto(component: string): Incident | undefined {
    return this.#o.store.openIncidentsFor(component).find((i) => i.autoComponent === component);
  }
}

/** The page alerts of the SLO engine, one per SLO whose page rule fires. */
export function sloAlerts(report: () => readonly { id: string; slos: readonly SloReport[] }[]): AlertSource {
  return () =>
    report().flatMap((c) =>
      c.slos
        .filter((s) => s.alerts.page)
        .map((s): ComponentAlert => {
          const short = s.windows.find((w) => w.window === '5m');
          const long = s.windows.find((w) => w.window === '1h');
          const burn = long?.burnRate ?? short?.burnRate ?? null;
          const status: ComponentStatus = s.status === 'major_outage' || s.status === 'partial_outage' || s.status === 'degraded_performance' ? s.status : 'partial_outage';
          return {
            component: s.component,
            source: `slo:${s.id}`,
            title: `${s.name} is burning its error budget`,
            detail:
              `SLO ${s.name} (${s.id}) fires its page alert since ${iso(s.statusSinceMs)}: ` +
              `${burn === null ? 'its error budget burns fast' : `its error budget burns ${round(burn)}× faster than sustainable`}. ` +
              `SLI over 1h: ${percent(long?.sli ?? null)}, over 5m: ${percent(short?.sli ?? null)} (objective ${percent(s.objective)}). ` +
              `Error budget left over ${s.window}: ${percent(s.budgetRemaining)}.`,
            status,
            sinceMs: s.statusSinceMs,
          };
        }),
    );
}

/** What a heartbeat alert needs (collectors/heartbeats HeartbeatAlert). */
interface DownHeartbeat {
  heartbeat: string;
  component: string;
  sinceMs: number;
  reason: 'failed' | 'missed' | 'overran';
  lastSuccessMs: number | null;
}

/** Heartbeats that are down, with the SLI and budget of the SLOs that count their runs. */
export function heartbeatAlerts(down: () => readonly DownHeartbeat[], slosOf: (heartbeat: string) => readonly SloReport[]): AlertSource {
  const what = { failed: 'reported a failed run', missed: 'missed its run', overran: 'ran past max_runtime' } as const;
  return () =>
    down().map((h): ComponentAlert => {
      const slos = slosOf(h.heartbeat).map((s) => {
        const w = s.windows[s.windows.length - 1]!;
        return `SLO ${s.name} (${s.id}): SLI over ${s.window} ${percent(w.sli)} (${w.good} of ${w.total} runs good; objective ${percent(s.objective)}), error budget left ${percent(s.budgetRemaining)}.`;
      });
      return {
        component: h.component,
        source: `heartbeat:${h.heartbeat}`,
        title: `heartbeat ${h.heartbeat} ${what[h.reason]}`,
        detail: [
          `Heartbeat ${h.heartbeat} ${what[h.reason]}: down since ${iso(h.sinceMs)}; last success ${h.lastSuccessMs === null ? 'never' : iso(h.lastSuccessMs)}.`,
          ...slos,
        ].join(' '),
        status: 'major_outage',
        sinceMs: h.sinceMs,
      };
    });
}

/** What a probe alert needs (collectors/probes `states()`). */
interface ProbeState {
  id: string;
  component: string;
  /** Down after `confirm` consecutive failures; null before the first result. */
  confirmed: 'up' | 'down' | null;
  lastError: string | null;
}

/**
 * Probes confirmed down. The collector does not say since when, so the first evaluation that sees a
 * probe down stands for it (at most one status.refresh_interval late).
 */
export function probeAlerts(states: () => readonly ProbeState[], slosOf: (probe: string) => readonly SloReport[], now: () => number = Date.now): AlertSource {
  const downSince = new Map<string, number>();
  return () => {
    const out: ComponentAlert[] = [];
    for (const p of states()) {
      if (p.confirmed !== 'down') {
        downSince.delete(p.id);
        continue;
      }
      const since = downSince.get(p.id) ?? now();
      downSince.set(p.id, since);
      const slos = slosOf(p.id).map((s) => {
        const w = s.windows.find((x) => x.window === '1h') ?? s.windows[s.windows.length - 1]!;
        return `SLO ${s.name} (${s.id}): SLI over ${w.window} ${percent(w.sli)} (objective ${percent(s.objective)}), error budget left over ${s.window} ${percent(s.budgetRemaining)}.`;
      });
      out.push({
        component: p.component,
        source: `probe:${p.id}`,
        title: `probe ${p.id} is down`,
        detail: [`Probe ${p.id} is confirmed down since ${iso(since)}${p.lastError === null ? '' : `: ${p.lastError}`}.`, ...slos].join(' '),
        status: 'major_outage',
        sinceMs: since,
      });
    }
    return out;
  };
}

const SEVERITY: Record<ComponentStatus, number> = { operational: 0, under_maintenance: 0, degraded_performance: 1, partial_outage: 2, major_outage: 3 };

function worst(statuses: readonly ComponentStatus[]): ComponentStatus {
  return statuses.reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), 'degraded_performance');
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

function percent(ratio: number | null): string {
  return ratio === null ? 'no data' : `${Number((ratio * 100).toFixed(3))} %`;
}

function round(x: number): string {
  return String(Number(x.toPrecision(3)));
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
