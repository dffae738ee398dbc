// Renders the store as Prometheus text 0.0.4 or OpenMetrics 1.0. Label text is cached per
// series at creation, so a scrape only concatenates strings and formats numbers; the lines go
// into an ExpositionWriter a series at a time, never into one exposition-sized string.

import type { Family, Series } from '../../daemon/store/series.js';
import { SeriesData } from '../../daemon/store/series.js';
import type { PercentileSettings } from '../../daemon/percentiles/index.js';
import { bucketLowerBound, bucketUpperBound } from '../../daemon/store/exp-histogram.js';
import { escapeHelp, formatValue } from './naming.js';
import { ExpositionWriter } from './exposition-writer.js';

/** The two exposition formats. */
export type ExpositionFormat = 'text' | 'openmetrics';

/** Renders `families` (already sorted by name); OpenMetrics output is not terminated by `# EOF`. */
export function renderFamilies(families: readonly Family[], format: ExpositionFormat): string {
  const out = new ExpositionWriter();
  writeFamilies(families, format, out);
  return out.finish().bytes.toString('utf8');
}

/** Series (histogram series with percentiles: a quarter of that) rendered between two yields. */
const SERIES_PER_YIELD = 128;

/** Appends `families` (already sorted by name) to `out`; OpenMetrics output without `# EOF`. */
export function writeFamilies(families: readonly Family[], format: ExpositionFormat, out: ExpositionWriter): void {
  const steps = familySteps(families, format, out);
  while (steps.next().done !== true);
}

/**
 * Like writeFamilies, but gives the event loop a turn (setImmediate) each time it has run for
 * `sliceMs`, so OTLP requests are not held up for a whole large scrape. Merges may land between
 * slices: each series is rendered whole, but not all series at the same instant.
 */
export async function writeFamiliesSliced(families: readonly Family[], format: ExpositionFormat, out: ExpositionWriter, sliceMs: number): Promise<void> {
  const steps = familySteps(families, format, out);
  let sliceStart = performance.now();
  while (steps.next().done !== true) {
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

/** The rendering itself, yielding every few series so a caller can pause between them. */
function* familySteps(families: readonly Family[], format: ExpositionFormat, out: ExpositionWriter): Generator<void, void, void> {
  const om = format === 'openmetrics';
  let names: Set<string> | null = null;
  let sinceYield = 0;
  for (const family of families) {
    // The header goes out with the first series that has something to show; none, no family.
    let empty = true;
    for (const series of family.series) {
      if (++sinceYield >= SERIES_PER_YIELD) {
        sinceYield = 0;
        yield;
      }
      if (!series.hasValue) continue;
      const text = renderSeries(family, series);
      if (text === '') continue;
      if (empty) {
        out.write(header(family, om));
        empty = false;
      }
      out.write(text);
    }
    if (empty) continue;
    if (family.type === 'histogram') {
      names ??= new Set(families.map((f) => f.name));
      yield* percentileSteps(family, names, om, out);
    }
  }
}

/**
 * The `<name>_percentiles` summary family of a histogram family: per series and window, the HDR
 * quantiles (none when the window is empty) then `_sum` and `_count`. Skipped when a pushed family
 * already owns one of its names.
 */
function* percentileSteps(family: Family, names: ReadonlySet<string>, om: boolean, out: ExpositionWriter): Generator<void, void, void> {
  const name = `${family.name}_percentiles`;
  if (names.has(name) || names.has(`${name}_sum`) || names.has(`${name}_count`)) return;
  let empty = true;
  let sinceYield = 0;
  let labelsFor: PercentileSettings | null = null;
  let quantileLabels: string[][] = [];
  let windowLabels: string[] = [];
  for (const s of family.series) {
    if (++sinceYield >= SERIES_PER_YIELD / 4) {
      sinceYield = 0;
      yield;
    }
    const p = s.percentiles;
    if (p === null || !s.hasValue) continue;
    if (empty) {
      const help = `HDR percentiles of ${family.name} over sliding windows.`;
      out.write(`# HELP ${name} ${escapeHelp(help, om)}\n# TYPE ${name} summary\n`);
      empty = false;
    }
    if (p.settings !== labelsFor) {
      labelsFor = p.settings;
      ({ quantileLabels, windowLabels } = percentileLabels(p.settings));
    }
    // Each line is prefix + its labels + value: the prefixes are shared, not copied, per line.
    const open = name + s.labelOpen;
    const sumOpen = `${name}_sum${s.labelOpen}`;
    const countOpen = `${name}_count${s.labelOpen}`;
    let body = '';
    for (let w = 0; w < windowLabels.length; w++) {
      const snap = p.snapshot(w);
      const values = snap.values;
      if (values !== null) {
        const labels = quantileLabels[w]!;
        for (let q = 0; q < labels.length; q++) body += open + labels[q]! + formatValue(values[q]!) + '\n';
      }
      body += sumOpen + windowLabels[w]! + formatValue(snap.sum) + '\n';
      body += countOpen + windowLabels[w]! + formatValue(snap.count) + '\n';
    }
    out.write(body);
  }
}

/** `quantile="0.5",window="1m"} ` per window and quantile, and `window="1m"} ` per window. */
function percentileLabels(settings: PercentileSettings): { quantileLabels: string[][]; windowLabels: string[] } {
  const windowLabels = settings.windowLabels.map((w) => `window="${w}"} `);
  const quantileLabels = windowLabels.map((w) => settings.quantiles.map((q) => `quantile="${formatValue(q)}",${w}`));
  return { quantileLabels, windowLabels };
}

function header(family: Family, om: boolean): string {
  let name = family.name;
  let type: string = family.type;
  if (family.type === 'counter' && !om) name += '_total';
  if (family.type === 'info') {
    if (om) name = name.endsWith('_info') ? name.slice(0, -5) : name;
    else type = 'gauge';
  }
  let h = '';
  if (family.help !== '') h += `# HELP ${name} ${escapeHelp(family.help, om)}\n`;
  h += `# TYPE ${name} ${type}\n`;
  if (om && family.unit !== '' && name.endsWith('_' + family.unit)) h += `# UNIT ${name} ${family.unit}\n`;
  return h;
}

function renderSeries(family: Family, s: Series): string {
  const name = family.name;
  switch (s.data) {
    case SeriesData.Number:
      if (family.type === 'counter') return `${name}_total${s.labelText} ${formatValue(s.value)}\n`;
      return `${name}${s.labelText} ${formatValue(s.value)}\n`;
    case SeriesData.Histogram:
      return renderHistogram(name, s);
    case SeriesData.ExpHistogram:
      return renderExpHistogram(name, s);
    case SeriesData.Summary: {
      let out = '';
      const quantiles = s.bounds!;
      const values = s.counts!;
      for (let i = 0; i < quantiles.length; i++) {
        out += `${name}${s.labelOpen}quantile="${formatValue(quantiles[i]!)}"} ${formatValue(values[i]!)}\n`;
      }
      return out + sumAndCount(name, s);
    }
    default:
      return '';
  }
}

function sumAndCount(name: string, s: Series): string {
  const sum = Number.isNaN(s.sum) ? '' : `${name}_sum${s.labelText} ${formatValue(s.sum)}\n`;
  return sum + `${name}_count${s.labelText} ${formatValue(s.count)}\n`;
}

function renderHistogram(name: string, s: Series): string {
  const bounds = s.bounds!;
  const counts = s.counts!;
  let out = '';
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += counts[i]!;
    out += `${name}_bucket${s.labelOpen}le="${formatValue(bounds[i]!)}"} ${formatValue(cumulative)}\n`;
  }
  out += `${name}_bucket${s.labelOpen}le="+Inf"} ${formatValue(s.count)}\n`;
  return out + sumAndCount(name, s);
}

/**
 * An exponential histogram as a classic one: one `le` bucket per exponential bucket between the
 * lowest and highest populated ones (empty ones included, so interpolation stays within a bucket),
 * negative buckets first with their upper bound -base^i, the zero bucket as `le="0"`.
 */
function renderExpHistogram(name: string, s: Series): string {
  let out = '';
  let cumulative = 0;
  const negative = s.negative;
  if (negative !== null) {
    for (let i = negative.counts.length - 1; i >= 0; i--) {
      cumulative += negative.counts[i]!;
      const le = -bucketLowerBound(negative.offset + i, s.scale);
      out += `${name}_bucket${s.labelOpen}le="${formatValue(le)}"} ${formatValue(cumulative)}\n`;
    }
  }
  cumulative += s.zeroCount;
  if (s.zeroCount > 0 || negative !== null && negative.counts.length > 0) {
    out += `${name}_bucket${s.labelOpen}le="0"} ${formatValue(cumulative)}\n`;
  }
  const positive = s.positive;
  if (positive !== null) {
    for (let i = 0; i < positive.counts.length; i++) {
      cumulative += positive.counts[i]!;
      const le = bucketUpperBound(positive.offset + i, s.scale);
      out += `${name}_bucket${s.labelOpen}le="${formatValue(le)}"} ${formatValue(cumulative)}\n`;
    }
  }
  out += `${name}_bucket${s.labelOpen}le="+Inf"} ${formatValue(s.count)}\n`;
  return out + sumAndCount(name, s);
}
