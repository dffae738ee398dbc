// One heartbeat's state machine, with Healthchecks.io's meaning: expected runs ("slots") come due
// on the schedule, a success closes the oldest one, a missed deadline (due + grace), a failure or a
// /start not followed by success within max_runtime is a bad run. Pure: the clock is passed in, and
// what happened is told to the caller (SLI events, outages, durations), who persists the snapshot.

import { Cron } from 'croner';
import type { HeartbeatConfig } from '../../daemon/config/types.js';

/** What the page and the metrics show (Healthchecks.io's states; `late` is its "grace"). */
export type HeartbeatState = 'new' | 'up' | 'late' | 'running' | 'down';
export const HEARTBEAT_STATES: readonly HeartbeatState[] = ['new', 'up', 'late', 'running', 'down'];

/** How one expected run ended: one SLI event each (good only for success). */
export type RunOutcome = 'success' | 'failed' | 'missed' | 'overran';
export const RUN_OUTCOMES: readonly RunOutcome[] = ['success', 'failed', 'missed', 'overran'];

/** The three signals a job sends (an exit status is success for 0, fail otherwise). */
export type PingKind = 'success' | 'start' | 'fail';

/** An expected run: due on the schedule, closed by a ping or by its deadline. */
interface Slot {
  dueMs: number;
  /** due + grace; after a /start, start + max_runtime. */
  deadlineMs: number;
  startedMs: number | null;
}

/** A run in progress, from /start to its success or failure; `rid` '' when the job sent none. */
interface Run {
  rid: string;
  startMs: number;
  /** The slot it belongs to, by due time, or null (a run started before its slot came due). */
  slotDueMs: number | null;
}

/** Everything that survives a restart of vigild (heartbeat_state.state, JSON). */
export interface MonitorSnapshot {
  v: 1;
  /** The schedule the slots were computed with; another one (config changed) restarts them. */
  schedule: string;
  firstPingMs: number | null;
  lastPingMs: number | null;
  lastSuccessMs: number | null;
  lastStartMs: number | null;
  lastFailMs: number | null;
  lastExitStatus: number | null;
  lastDurationMs: number | null;
  downSinceMs: number | null;
  downReason: Exclude<RunOutcome, 'success'> | null;
  /** cron: the next fire time not yet opened as a slot. */
  nextFireMs: number | null;
  slots: Slot[];
  runs: Run[];
}

/** What the monitor tells its owner, in the order it happened. */
export interface MonitorEvents {
  /** One expected run ended: one SLI event at `atMs`. */
  outcome(outcome: RunOutcome, atMs: number): void;
  /** The heartbeat went down (an outage starts at `sinceMs`). */
  down(sinceMs: number, reason: Exclude<RunOutcome, 'success'>): void;
  /** A success ended the outage at `atMs`. */
  up(atMs: number): void;
  /** A run from /start to success or failure took `ms`. */
  duration(ms: number, kind: 'success' | 'fail'): void;
}

/** Runs in progress kept per heartbeat (distinct rids); beyond it the oldest is forgotten. */
const MAX_RUNS = 32;
/** Open slots kept; a schedule far more frequent than its grace could otherwise pile them up. */
const MAX_SLOTS = 1000;

/** The schedule's identity, so a changed config is noticed after a restart. */
function scheduleSignature(config: HeartbeatConfig): string {
  const s = config.schedule;
  return `${s.kind === 'cron' ? `cron ${s.cron} ${s.timezone}` : `every ${s.everyMs}`} grace ${config.graceMs} max ${config.maxRuntimeMs}`;
}

/** A heartbeat's schedule, runs and state. */
export class HeartbeatMonitor {
  readonly config: HeartbeatConfig;
  readonly #cron: Cron | null;
  readonly #events: MonitorEvents;
  #s: MonitorSnapshot;

  /**
   * `saved` is the snapshot of the last run of vigild, if any. What fell due while vigild was not
   * running is dropped, not counted: those minutes are no data (a ping sent then was lost).
   */
  constructor(config: HeartbeatConfig, events: MonitorEvents, nowMs: number, saved?: MonitorSnapshot) {
    this.config = config;
    this.#events = events;
    this.#cron = config.schedule.kind === 'cron' ? new Cron(config.schedule.cron, { paused: true, timezone: config.schedule.timezone }) : null;
    const signature = scheduleSignature(config);
    this.#s = saved?.v === 1 ? structuredClone(saved) : emptySnapshot(signature);
    if (saved === undefined || this.#s.firstPingMs === null) return;
    if (this.#s.schedule !== signature) {
      // A new schedule: earlier expectations no longer hold; start afresh from now.
      this.#s.schedule = signature;
      this.#s.slots = [];
      this.#s.runs.forEach((r) => (r.slotDueMs = null));
      this.#s.nextFireMs = this.#cron === null ? null : this.#firstFireAtOrAfter(nowMs);
      if (this.#cron === null) this.#s.slots = [{ dueMs: nowMs + this.#every(), deadlineMs: nowMs + this.#every() + config.graceMs, startedMs: null }];
      return;
    }
    const dropped = new Set(this.#s.slots.filter((slot) => slot.deadlineMs < nowMs).map((slot) => slot.dueMs));
    this.#s.slots = this.#s.slots.filter((slot) => !dropped.has(slot.dueMs));
    this.#s.runs = this.#s.runs.filter((r) => r.startMs + config.maxRuntimeMs >= nowMs);
    for (const r of this.#s.runs) if (r.slotDueMs !== null && dropped.has(r.slotDueMs)) r.slotDueMs = null;
    if (this.#cron !== null) {
      if (this.#s.nextFireMs !== null && this.#s.nextFireMs + config.graceMs < nowMs) this.#s.nextFireMs = this.#firstFireAtOrAfter(nowMs - config.graceMs);
    } else if (this.#s.slots.length === 0) {
      // The job keeps its own rhythm: its next ping is due within one period of now.
      this.#s.slots = [{ dueMs: nowMs + this.#every(), deadlineMs: nowMs + this.#every() + config.graceMs, startedMs: null }];
    }
  }

  /** The state to persist. */
  snapshot(): MonitorSnapshot {
    return structuredClone(this.#s);
  }

  /** Read-only view of the snapshot (metrics, alerts). */
  get view(): Readonly<MonitorSnapshot> {
    return this.#s;
  }

  /** The state at `nowMs` (after tick). */
  state(nowMs: number): HeartbeatState {
    const s = this.#s;
    if (s.firstPingMs === null) return 'new';
    if (s.downSinceMs !== null) return 'down';
    if (s.runs.length > 0) return 'running';
    if (s.slots.some((slot) => slot.dueMs <= nowMs && slot.startedMs === null)) return 'late';
    return 'up';
  }

  /** When tick() next has something to do, or null (a new heartbeat waits for its first ping). */
  nextWakeMs(): number | null {
    const s = this.#s;
    if (s.firstPingMs === null) return null;
    let next = s.nextFireMs ?? Infinity;
    for (const slot of s.slots) next = Math.min(next, slot.deadlineMs);
    for (const r of s.runs) next = Math.min(next, r.startMs + this.config.maxRuntimeMs);
    return Number.isFinite(next) ? next : null;
  }

  /** Opens slots that came due and closes those past their deadline. True when anything changed. */
  tick(nowMs: number): boolean {
    const s = this.#s;
    if (s.firstPingMs === null) return false;
    let changed = false;
    // Slots open and close in time order, so an outage starts at the first deadline missed.
    for (;;) {
      const fire = this.#cron !== null && s.nextFireMs !== null && s.nextFireMs <= nowMs ? s.nextFireMs : Infinity;
      const slot = s.slots.reduce<Slot | null>((a, b) => (a === null || b.deadlineMs < a.deadlineMs ? b : a), null);
      const deadline = slot !== null && slot.deadlineMs <= nowMs ? slot.deadlineMs : Infinity;
      const run = s.runs.find((r) => r.slotDueMs === null && r.startMs + this.config.maxRuntimeMs <= nowMs);
      const overrun = run === undefined ? Infinity : run.startMs + this.config.maxRuntimeMs;
      const first = Math.min(fire, deadline, overrun);
      if (first === Infinity) break;
      changed = true;
      if (first === fire) this.#openSlot(fire);
      else if (first === deadline) this.#closeLate(slot!);
      else {
        // A run that belongs to no open slot overran: the job is in trouble, but no expected run ended.
        s.runs = s.runs.filter((r) => r !== run);
        this.#down(overrun, 'overran');
      }
    }
    return changed;
  }

  /** A ping at `nowMs`: /start, success (or exit status 0), fail (or exit status 1–255). */
  ping(kind: PingKind, nowMs: number, rid: string | null, exitStatus: number | null): void {
    const s = this.#s;
    const config = this.config;
    if (s.firstPingMs === null) {
      s.firstPingMs = nowMs;
      // The first ping starts the schedule; a slot whose grace window holds this ping is open now.
      if (this.#cron !== null) s.nextFireMs = this.#firstFireAtOrAfter(nowMs - config.graceMs);
      else s.slots = [{ dueMs: nowMs, deadlineMs: nowMs + config.graceMs, startedMs: null }];
    }
    this.tick(nowMs);
    s.lastPingMs = nowMs;
    if (kind === 'start') {
      s.lastStartMs = nowMs;
      const slot = s.slots.find((x) => x.startedMs === null) ?? s.slots[s.slots.length - 1] ?? null;
      if (slot !== null) {
        slot.startedMs = nowMs;
        slot.deadlineMs = nowMs + config.maxRuntimeMs;
      }
      s.runs = s.runs.filter((r) => r.rid !== (rid ?? ''));
      // Another run of the same slot (a retry) replaces its claim on the slot.
      if (slot !== null) for (const r of s.runs) if (r.slotDueMs === slot.dueMs) r.slotDueMs = null;
      s.runs.push({ rid: rid ?? '', startMs: nowMs, slotDueMs: slot?.dueMs ?? null });
      if (s.runs.length > MAX_RUNS) s.runs.shift();
      return;
    }
    // Without a rid, an end pairs with the latest start (Healthchecks.io does the same).
    const run = rid !== null ? s.runs.find((r) => r.rid === rid) : s.runs[s.runs.length - 1];
    if (run !== undefined) {
      s.runs = s.runs.filter((r) => r !== run);
      s.lastDurationMs = nowMs - run.startMs;
      this.#events.duration(nowMs - run.startMs, kind);
    }
    const slot = (run?.slotDueMs != null ? s.slots.find((x) => x.dueMs === run.slotDueMs) : undefined) ?? s.slots[0];
    if (slot !== undefined) {
      s.slots = s.slots.filter((x) => x !== slot);
      this.#events.outcome(kind === 'success' ? 'success' : 'failed', nowMs);
    }
    // `every`: the next run is due one period after this one, whatever became of the slot.
    if (this.#cron === null) s.slots = [{ dueMs: nowMs + this.#every(), deadlineMs: nowMs + this.#every() + config.graceMs, startedMs: null }];
    if (exitStatus !== null) s.lastExitStatus = exitStatus;
    if (kind === 'success') {
      s.lastSuccessMs = nowMs;
      if (s.downSinceMs !== null) {
        s.downSinceMs = null;
        s.downReason = null;
        this.#events.up(nowMs);
      }
    } else {
      s.lastFailMs = nowMs;
      this.#down(nowMs, 'failed');
    }
  }

  #openSlot(dueMs: number): void {
    const s = this.#s;
    const slot: Slot = { dueMs, deadlineMs: dueMs + this.config.graceMs, startedMs: null };
    // A run started just before its slot came due (a job whose clock runs fast) belongs to it.
    const early = [...s.runs].reverse().find((r) => r.slotDueMs === null);
    if (early !== undefined) {
      slot.startedMs = early.startMs;
      slot.deadlineMs = early.startMs + this.config.maxRuntimeMs;
      early.slotDueMs = dueMs;
    }
    s.slots.push(slot);
    if (s.slots.length > MAX_SLOTS) s.slots.shift();
    s.nextFireMs = this.#cron!.nextRun(new Date(dueMs))?.getTime() ?? null;
  }

  /** A slot's deadline passed: missed (no start) or overran (started, no end within max_runtime). */
  #closeLate(slot: Slot): void {
    const s = this.#s;
    const outcome: RunOutcome = slot.startedMs === null ? 'missed' : 'overran';
    s.slots = s.slots.filter((x) => x !== slot);
    s.runs = s.runs.filter((r) => r.slotDueMs !== slot.dueMs);
    this.#events.outcome(outcome, slot.deadlineMs);
    this.#down(slot.deadlineMs, outcome);
    if (this.#cron === null) {
      // `every`: while the job stays silent, one missed run per period.
      const due = slot.dueMs + this.#every();
      s.slots.push({ dueMs: due, deadlineMs: due + this.config.graceMs, startedMs: null });
    }
  }

  #down(atMs: number, reason: Exclude<RunOutcome, 'success'>): void {
    if (this.#s.downSinceMs !== null) return;
    this.#s.downSinceMs = atMs;
    this.#s.downReason = reason;
    this.#events.down(atMs, reason);
  }

  #every(): number {
    return this.config.schedule.kind === 'every' ? this.config.schedule.everyMs : 0;
  }

  /** The first cron fire time at or after `ms` (croner's nextRun is strictly after, to the second). */
  #firstFireAtOrAfter(ms: number): number | null {
    const cron = this.#cron!;
    let next = cron.nextRun(new Date(Math.ceil(ms / 1000) * 1000 - 1000));
    while (next !== null && next.getTime() < ms) next = cron.nextRun(next);
    return next?.getTime() ?? null;
  }
}

function emptySnapshot(schedule: string): MonitorSnapshot {
  return {
    v: 1,
    schedule,
    firstPingMs: null,
    lastPingMs: null,
    lastSuccessMs: null,
    lastStartMs: null,
    lastFailMs: null,
    lastExitStatus: null,
    lastDurationMs: null,
    downSinceMs: null,
    downReason: null,
    nextFireMs: null,
    slots: [],
    runs: [],
  };
}
