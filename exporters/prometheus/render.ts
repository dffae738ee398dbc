// Writes read-model families (daemon/model) as Prometheus text 0.0.4 or OpenMetrics 1.0. Label text
// is cached per series at creation, so a scrape only concatenates strings and formats numbers; the
// lines go into an ExpositionWriter a series at a time, never into one exposition-sized string.
// Exemplars only in OpenMetrics (text 0.0.4 has no syntax for them).

import { SeriesKind, expClassicBuckets } from '../../daemon/model/read-model.js';
import type { ExemplarView, FamilyView, SeriesView } from '../../daemon/model/read-model.js';
import { escapeHelp, escapeLabelValue, formatValue } from '../../daemon/model/naming.js';
import { ExpositionWriter } from './exposition-writer.js';

/** The two text exposition formats. */
export type TextFormat = 'text' | 'openmetrics';

/** Renders `families`; OpenMetrics output is not terminated by `# EOF`. */
export function renderFamilies(families: readonly FamilyView[], format: TextFormat): string {
  const out = new ExpositionWriter();
  writeFamilies(families, format, out);
  return out.finish().bytes.toString('utf8');
}

/** Series rendered between two checks of the clock. */
const SERIES_PER_YIELD = 128;

/** Appends `families` to `out`; OpenMetrics output without `# EOF`. */
export function writeFamilies(families: readonly FamilyView[], format: TextFormat, out: ExpositionWriter): void {
  const steps = familySteps(families, format, out);
  while (steps.next().done !== true);
}

/**
 * Like writeFamilies, but gives the event loop a turn (setImmediate) each time it has run for
 * `sliceMs`, so OTLP requests are not held up for a whole large scrape. Merges may land between
 * slices: each series is rendered whole, but not all series at the same instant.
 */
export async function writeFamiliesSliced(families: readonly FamilyView[], format: TextFormat, out: ExpositionWriter, sliceMs: number): Promise<void> {
  await runSliced(familySteps(families, format, out), sliceMs);
}

/** Runs `steps`, yielding to the event loop every `sliceMs` (shared with the protobuf writer). */
export async function runSliced(steps: Generator<void, void, void>, sliceMs: number): Promise<void> {
  let sliceStart = performance.now();
  while (steps.next().done !== true) {
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

/** The rendering itself, yielding every few series so a caller can pause between them. */
function* familySteps(families: readonly FamilyView[], format: TextFormat, out: ExpositionWriter): Generator<void, void, void> {
  const om = format === 'openmetrics';
  let sinceYield = 0;
  for (const family of families) {
    // The header goes out with the first series that has something to show; none, no family
    // (unless the family is announced from start).
    let empty = true;
    if (family.announced === true) {
      out.write(header(family, om));
      empty = false;
    }
    for (const series of family.series) {
      if (++sinceYield >= SERIES_PER_YIELD) {
        sinceYield = 0;
        yield;
      }
      if (!series.hasValue) continue;
      const text = renderSeries(family, series, om);
      if (text === '') continue;
      if (empty) {
        out.write(header(family, om));
        empty = false;
      }
      out.write(text);
    }
  }
}

function header(family: FamilyView, om: boolean): string {
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

function renderSeries(family: FamilyView, s: SeriesView, om: boolean): string {
  const name = family.name;
  switch (s.data) {
    case SeriesKind.Number:
      if (family.type === 'counter') return `${name}_total${s.labelText} ${formatValue(s.value)}${om ? exemplarText(s.exemplar(0)) : ''}\n`;
      return `${name}${s.labelText} ${formatValue(s.value)}\n`;
    case SeriesKind.Histogram:
      return renderHistogram(name, s, om);
    case SeriesKind.ExpHistogram:
      return renderExpHistogram(name, s);
    case SeriesKind.Summary: {
      let out = '';
      const quantiles = s.bounds!;
      const values = s.counts!;
      const open = name + s.labelOpen;
      const close = s.labelClose + ' ';
      for (let i = 0; i < quantiles.length; i++) out += `${open}quantile="${formatValue(quantiles[i]!)}"${close}${formatValue(values[i]!)}\n`;
      return out + sumAndCount(name, s);
    }
    default:
      return '';
  }
}

/** ` # {trace_id="…",span_id="…"} value timestamp`, or '' for none. */
function exemplarText(e: ExemplarView | null): string {
  if (e === null) return '';
  let labels = '';
  for (let i = 0; i + 1 < e.labels.length; i += 2) labels += `${i > 0 ? ',' : ''}${e.labels[i]}="${escapeLabelValue(e.labels[i + 1]!)}"`;
  return ` # {${labels}} ${formatValue(e.value)} ${(e.timeMs / 1000).toFixed(3)}`;
}

function sumAndCount(name: string, s: SeriesView): string {
  const sum = Number.isNaN(s.sum) ? '' : `${name}_sum${s.labelText} ${formatValue(s.sum)}\n`;
  return sum + `${name}_count${s.labelText} ${formatValue(s.count)}\n`;
}

/** `le="0.5"` per bound of the last bounds array seen: span series all share one array. */
let lastBounds: Float64Array | null = null;
let lastLe: string[] = [];

function leLabels(bounds: Float64Array): string[] {
  if (bounds !== lastBounds) {
    lastLe = Array.from(bounds, (b) => `le="${formatValue(b)}"`);
    lastBounds = bounds;
  }
  return lastLe;
}

function renderHistogram(name: string, s: SeriesView, om: boolean): string {
  const bounds = s.bounds!;
  const counts = s.counts!;
  const open = `${name}_bucket${s.labelOpen}`;
  const close = s.labelClose + ' ';
  const le = leLabels(bounds);
  let out = '';
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += counts[i]!;
    out += `${open}${le[i]}${close}${formatValue(cumulative)}${om ? exemplarText(s.exemplar(i)) : ''}\n`;
  }
  out += `${open}le="+Inf"${close}${formatValue(s.count)}${om ? exemplarText(s.exemplar(bounds.length)) : ''}\n`;
  return out + sumAndCount(name, s);
}

/** An exponential histogram as classic buckets (expClassicBuckets in the read model says which). */
function renderExpHistogram(name: string, s: SeriesView): string {
  const { bounds, cumulative } = expClassicBuckets(s);
  const open = `${name}_bucket${s.labelOpen}`;
  const close = s.labelClose + ' ';
  let out = '';
  for (let i = 0; i < bounds.length; i++) out += `${open}le="${formatValue(bounds[i]!)}"${close}${formatValue(cumulative[i]!)}\n`;
  out += `${open}le="+Inf"${close}${formatValue(s.count)}\n`;
  return out + sumAndCount(name, s);
}
