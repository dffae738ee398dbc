// Service level objectives: per-minute rollups, windows, burn-rate alerts, statuses (README.md).

import { Storage } from '../storage/index.js';
import type { Config } from '../config/types.js';
import { MIN_MINUTE_RETENTION_MINUTES } from '../storage/index.js';
import type { Family } from '../store/series.js';
import type { Logger } from 'pino';
import { SloEngine } from './engine.js';
import type { SloEngineOptions } from './engine.js';
import { PrometheusSloSource, sourceFamilies } from './prometheus-source.js';
import type { SloSourceSettings } from '../config/types.js';

/** Longest SLO window in minutes, plus a day; minute rollups are kept at least this long. */
function minuteRetention(config: Pick<Config, 'slos'>): number {
  let longest = 0;
  for (const s of config.slos) {
    const w = s.window;
    longest = Math.max(longest, w.kind === 'rolling' ? w.minutes : w.period === 'month' ? 31 * 1440 : 92 * 1440);
  }
  return Math.max(MIN_MINUTE_RETENTION_MINUTES, longest + 1440);
}

/** Builds the engine for a daemon config; storage opens on start(). */
function createSloEngine(
  config: Pick<Config, 'components' | 'slos' | 'storage'>,
  options: { families?: () => readonly Family[]; now?: () => number; logger?: Logger; onStorageWrite?: SloEngineOptions['onStorageWrite']; onStorageOpened?: (storage: Storage) => void } = {},
): SloEngine {
  const now = options.now ?? Date.now;
  return new SloEngine({
    components: config.components,
    slos: config.slos,
    flushIntervalMs: config.storage.flushIntervalMs,
    openStorage: () => {
      const storage = Storage.open({ dataDir: config.storage.dataDir, minuteRetentionMinutes: minuteRetention(config), now });
      options.onStorageOpened?.(storage);
      return storage;
    },
    now,
    ...(options.families === undefined ? {} : { families: options.families }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.onStorageWrite === undefined ? {} : { onStorageWrite: options.onStorageWrite }),
  });
}

/** The fleet source of a status instance (slo.source.prometheus) feeding `engine`. */
function createPrometheusSource(settings: SloSourceSettings, config: Pick<Config, 'slos'>, engine: SloEngine, logger?: Logger): PrometheusSloSource {
  return new PrometheusSloSource({ settings, slos: config.slos, sink: engine, ...(logger === undefined ? {} : { logger }) });
}

export { createPrometheusSource, createSloEngine, PrometheusSloSource, SloEngine, sourceFamilies };
export type { ComponentReport, DailyUptime, SloEngineOptions, SloReport, WindowReport } from './engine.js';
export type { SpanSeriesLabels } from '../store/spans.js';
export type { SloStatus } from './math.js';
export { ALERT_RULES, REPORT_WINDOWS, budgetRemaining, burnRate, scaledThreshold, sloStatus, componentStatus } from './math.js';
export { calendarPeriod, localDay, localMidnight, zoneOffsetMs } from './calendar.js';
