// The daemon's own burn-rate alerts to Alertmanager's v2 API, the way Prometheus sends them:
// every firing alert is POSTed when it starts and again every resend interval with endsAt ahead of
// the next resend (so Alertmanager keeps it active between sends), and once more with endsAt = the
// time it resolved. Each Alertmanager has its own state and retry timer: a dead one never delays
// another, and nothing here runs on the ingest path (a timer reads the SLO engine's report).

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { StaticFamily } from '../../daemon/model/index.js';
import type { FamilyView } from '../../daemon/model/index.js';
import type { ComponentReport } from '../../daemon/slo/index.js';

/** One `alerting.alertmanagers[]` entry, as validated. */
export interface AlertmanagerTarget {
  /** Base URL; alerts go to `<url>/api/v2/alerts`. */
  url: string;
  headers: Record<string, string>;
  bearerToken: string | null;
  tls: { caFile: string | null; certFile: string | null; keyFile: string | null; insecureSkipVerify: boolean } | null;
  timeoutMs: number;
}

/** Settings of the sender. */
export interface AlertSenderOptions {
  alertmanagers: readonly AlertmanagerTarget[];
  /** How often a firing alert is sent again (default 1m, as Prometheus' --rules.alert.resend-delay). */
  resendIntervalMs: number;
  /** How often the SLO report is read for changes (default 5 s). */
  evaluateIntervalMs: number;
  /** The SLO engine's report (the same the status page shows). */
  report: () => ComponentReport[];
  /** Status page URL: the alerts' generatorURL and status_page annotation (read when sending). */
  statusUrl: () => string;
  now?: () => number;
  logger?: Logger;
}

/** What Alertmanager's PostableAlert holds. */
interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

/** One alert's lifecycle, shared by every Alertmanager. */
interface AlertState {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAtMs: number;
  /** Null while firing. */
  resolvedAtMs: number | null;
}

/** Per Alertmanager: what it was last sent, and its retry state. */
interface TargetState {
  target: AlertmanagerTarget;
  /** Alert key → when it was last delivered (resolved alerts: delivered once is enough). */
  delivered: Map<string, { atMs: number; resolved: boolean }>;
  inFlight: boolean;
  /** No attempt before this time (backoff after a failure). */
  retryAtMs: number;
  backoffMs: number;
  sent: number;
  failures: Map<string, number>;
  retries: number;
}

/** Backoff after a failed POST: 1 s doubling, at most the resend interval. */
const FIRST_BACKOFF_MS = 1000;
/** A resolved alert is offered for this long, then forgotten even if never delivered (Prometheus: 15 m). */
const RESOLVED_RETENTION_MS = 15 * 60_000;
/** endsAt is this many resend intervals ahead (Prometheus: 4 × max(resend delay, evaluation interval)). */
const ENDS_AT_INTERVALS = 4;

/** Alert name and labels: the same as the VigilSLOBurnRate rules of `vigil rules`. */
export const ALERT_NAME = 'VigilSLOBurnRate';

export class AlertSender {
  readonly #options: AlertSenderOptions;
  readonly #now: () => number;
  readonly #alerts = new Map<string, AlertState>();
  readonly #targets: TargetState[];
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: AlertSenderOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#targets = options.alertmanagers.map((target) => ({
      target,
      delivered: new Map(),
      inFlight: false,
      retryAtMs: 0,
      backoffMs: FIRST_BACKOFF_MS,
      sent: 0,
      failures: new Map(),
      retries: 0,
    }));
  }

  /** Starts the evaluation timer (a first pass runs at once). */
  start(): void {
    if (this.#timer !== null || this.#stopped || this.#targets.length === 0) return;
    this.#timer = setInterval(() => this.tick(), this.#options.evaluateIntervalMs);
    this.#timer.unref();
    this.tick();
  }

  /** Reads the report, updates alert states and sends what is due to each Alertmanager. */
  tick(): void {
    if (this.#stopped) return;
    let report: ComponentReport[];
    try {
      report = this.#options.report();
    } catch (err) {
      this.#options.logger?.error({ err }, 'alertmanager: reading the SLO report failed; retrying on the next tick');
      return;
    }
    const now = this.#now();
    this.#update(report, now);
    for (const t of this.#targets) if (!t.inFlight && now >= t.retryAtMs) this.#send(t, now);
  }

  /** Firing alerts now (tests, and the active-alerts gauge). */
  get firing(): number {
    let n = 0;
    for (const a of this.#alerts.values()) if (a.resolvedAtMs === null) n++;
    return n;
  }

  #update(report: ComponentReport[], now: number): void {
    const seen = new Set<string>();
    const base = this.#options.statusUrl().replace(/\/$/, '');
    for (const component of report) {
      for (const slo of component.slos) {
        const budget = slo.budgetRemaining === null ? 'no data' : `${Number((slo.budgetRemaining * 100).toPrecision(4))}%`;
        for (const severity of ['page', 'ticket'] as const) {
          if (!slo.alerts[severity]) continue;
          const key = `${slo.id}\u0000${severity}`;
          seen.add(key);
          let burn = 0;
          for (const t of slo.thresholds) {
            const long = slo.windows.find((w) => w.window === t.long)?.burnRate ?? null;
            if (t.severity === severity && long !== null && long >= t.burnRate) burn = Math.max(burn, long);
          }
          const annotations = {
            summary: `SLO ${slo.id} of ${slo.component} is burning its error budget at ${Number(burn.toPrecision(3))}x its sustainable rate (${severity})`,
            budget_remaining: budget,
            status_page: `${base}/`,
          };
          const existing = this.#alerts.get(key);
          if (existing === undefined || existing.resolvedAtMs !== null) {
            // A new firing (or firing again after resolving): a new startsAt, sent at once everywhere.
            this.#alerts.set(key, { labels: { alertname: ALERT_NAME, severity, slo: slo.id, component: slo.component }, annotations, startsAtMs: now, resolvedAtMs: null });
            for (const t of this.#targets) t.delivered.delete(key);
          } else {
            existing.annotations = annotations;
          }
        }
      }
    }
    for (const [key, alert] of this.#alerts) {
      if (alert.resolvedAtMs === null && !seen.has(key)) {
        alert.resolvedAtMs = now;
        for (const t of this.#targets) t.delivered.delete(key);
      } else if (alert.resolvedAtMs !== null && now - alert.resolvedAtMs > RESOLVED_RETENTION_MS) {
        this.#alerts.delete(key);
        for (const t of this.#targets) t.delivered.delete(key);
      }
    }
  }

  /** The alerts due for `t`: new or resolved ones not yet delivered, firing ones not sent for a resend interval. */
  #due(t: TargetState, now: number): { keys: string[]; resolved: boolean[]; body: PostableAlert[] } {
    const keys: string[] = [];
    const resolvedFlags: boolean[] = [];
    const body: PostableAlert[] = [];
    const resend = this.#options.resendIntervalMs;
    for (const [key, alert] of this.#alerts) {
      const last = t.delivered.get(key);
      const resolved = alert.resolvedAtMs !== null;
      if (resolved ? last?.resolved === true : last !== undefined && now - last.atMs < resend) continue;
      keys.push(key);
      resolvedFlags.push(resolved);
      body.push({
        labels: alert.labels,
        annotations: alert.annotations,
        startsAt: new Date(alert.startsAtMs).toISOString(),
        endsAt: new Date(resolved ? alert.resolvedAtMs! : now + ENDS_AT_INTERVALS * resend).toISOString(),
        generatorURL: `${this.#options.statusUrl().replace(/\/$/, '')}/`,
      });
    }
    return { keys, resolved: resolvedFlags, body };
  }

  #send(t: TargetState, now: number): void {
    const { keys, resolved, body } = this.#due(t, now);
    if (keys.length === 0) return;
    t.inFlight = true;
    const attempt = post(t.target, JSON.stringify(body)).then(
      (result) => {
        if (result === 'ok') {
          t.sent += keys.length;
          t.backoffMs = FIRST_BACKOFF_MS;
          t.retryAtMs = 0;
          for (const [i, key] of keys.entries()) t.delivered.set(key, { atMs: now, resolved: resolved[i]! });
          return;
        }
        t.failures.set(result, (t.failures.get(result) ?? 0) + 1);
        t.retries++;
        t.retryAtMs = this.#now() + t.backoffMs;
        t.backoffMs = Math.min(t.backoffMs * 2, this.#options.resendIntervalMs);
        this.#options.logger?.warn({ alertmanager: t.target.url, reason: result, alerts: keys.length, retryInMs: t.retryAtMs - this.#now() }, 'alertmanager: sending alerts failed; retrying');
        // Retry at the backoff time even if it falls between ticks.
        const timer = setTimeout(() => {
          if (!this.#stopped && !t.inFlight) this.#send(t, this.#now());
        }, Math.max(0, t.retryAtMs - this.#now()));
        timer.unref();
      },
    ).finally(() => {
      t.inFlight = false;
      this.#inFlight.delete(attempt);
    });
    this.#inFlight.add(attempt);
  }

  /** The vigil_alertmanager_* families for the read model (always announced). */
  collect(): FamilyView[] {
    const sent = new StaticFamily('vigil_alertmanager_alerts_sent', 'counter', 'Alerts (firing, resent or resolved) accepted by each Alertmanager (POST /api/v2/alerts answered 2xx).');
    const failed = new StaticFamily('vigil_alertmanager_send_failures', 'counter', 'POSTs to an Alertmanager that failed, by reason (http_4xx, http_5xx, network_error, timeout); each is retried.');
    const active = new StaticFamily('vigil_alertmanager_active_alerts', 'gauge', 'VigilSLOBurnRate alerts this instance has firing now.');
    for (const t of this.#targets) {
      sent.add(['alertmanager', t.target.url], t.sent);
      for (const reason of ['http_4xx', 'http_5xx', 'network_error', 'timeout']) failed.add(['alertmanager', t.target.url, 'reason', reason], t.failures.get(reason) ?? 0);
    }
    active.add([], this.firing);
    return [sent, failed, active];
  }

  /** Counters per Alertmanager (tests). */
  stats(): { url: string; sent: number; retries: number; failures: Record<string, number> }[] {
    return this.#targets.map((t) => ({ url: t.target.url, sent: t.sent, retries: t.retries, failures: Object.fromEntries(t.failures) }));
  }

  /** Stops the timer; a POST in flight may finish until `deadlineMs`. Idempotent, safe without start. */
  async shutdown(deadlineMs = this.#now()): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    const wait = Math.max(0, deadlineMs - this.#now());
    if (this.#inFlight.size > 0) await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((r) => setTimeout(r, wait).unref())]);
  }
}

/** POSTs alerts; the outcome as a failure reason or 'ok'. Never throws. */
function post(target: AlertmanagerTarget, body: string): Promise<'ok' | 'http_4xx' | 'http_5xx' | 'network_error' | 'timeout'> {
  const url = new URL(`${target.url.replace(/\/$/, '')}/api/v2/alerts`);
  const headers: Record<string, string> = { ...target.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'vigil' };
  if (target.bearerToken !== null) headers['authorization'] = `Bearer ${target.bearerToken}`;
  const tls = target.tls;
  const tlsOptions =
    url.protocol === 'https:' && tls !== null
      ? {
          ...(tls.caFile === null ? {} : { ca: readFileSync(tls.caFile) }),
          ...(tls.certFile === null ? {} : { cert: readFileSync(tls.certFile) }),
          ...(tls.keyFile === null ? {} : { key: readFileSync(tls.keyFile) }),
          rejectUnauthorized: !tls.insecureSkipVerify,
        }
      : {};
  return new Promise((resolve) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const done = (outcome: 'ok' | 'http_4xx' | 'http_5xx' | 'network_error' | 'timeout') => {
      if (!settled) resolve(outcome);
      settled = true;
    };
    const req = request(url, { method: 'POST', headers, timeout: target.timeoutMs, ...tlsOptions }, (res) => {
      res.resume();
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        done(code >= 200 && code < 300 ? 'ok' : code >= 500 ? 'http_5xx' : 'http_4xx');
      });
      res.on('error', () => done('network_error'));
    });
    req.on('timeout', () => {
      done('timeout');
      req.destroy();
    });
    req.on('error', () => done('network_error'));
    req.end(body);
  });
}
