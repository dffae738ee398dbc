// What SLOs and status-page components cost in memory, from the config alone: the automatic
// memory limits add it, and `vigil check-config` prints it. The constants are measured
// (native-bench scenario slo-scale, docs/performance.md); the rings follow from the windows.

import type { SloConfig } from '../config/types.js';
import { FLUSH_SLOTS, LATE_MINUTES, LIVE_HOURS, LIVE_MINUTES } from './minutes.js';

/** An SLO before its first event: its runtime object, no rings (measured: 830–920 bytes). */
export const IDLE_SLO_BYTES = 1024;
/** Around the rings of an SLO with traffic: typed-array headers, ring objects, cached sums (measured: about 5.5 KiB). */
const RING_OVERHEAD_BYTES = 5632;
/** A status-page component: its share of the model, the page, the JSON documents and their compressed copies (measured at 1,000 components). */
export const COMPONENT_BYTES = 24 * 1024;

/** Days the day ring of an SLO holds: its window (at least the 3d report window) and both partial days. */
function daySlots(window: SloConfig['window']): number {
  const minutes = window.kind === 'rolling' ? window.minutes : window.period === 'month' ? 31 * 1440 + 60 : 92 * 1440 + 60;
  return Math.ceil((Math.max(minutes, 3 * 1440) + LATE_MINUTES + 2) / 1440) + 2;
}

/** Bytes of one SLO with traffic (history in storage). */
export function busySloBytes(slo: Pick<SloConfig, 'window'>): number {
  return (LIVE_MINUTES + LIVE_HOURS + daySlots(slo.window) + FLUSH_SLOTS) * 20 + RING_OVERHEAD_BYTES;
}

/** What a config's SLOs and components need: idle (no traffic yet) and with traffic on every SLO. */
export interface Footprint {
  slos: number;
  components: number;
  idleBytes: number;
  busyBytes: number;
}

export function configFootprint(config: { slos: readonly Pick<SloConfig, 'window'>[]; components: readonly unknown[] }): Footprint {
  const base = config.components.length * COMPONENT_BYTES;
  let busy = base;
  for (const s of config.slos) busy += busySloBytes(s);
  return { slos: config.slos.length, components: config.components.length, idleBytes: base + config.slos.length * IDLE_SLO_BYTES, busyBytes: busy };
}
