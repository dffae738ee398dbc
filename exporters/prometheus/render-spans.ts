// Renders the span RED series (daemon/store/spans.ts) as three families, spanmetrics-connector style:
//   traces_span_metrics_calls_total                 counter, OpenMetrics exemplar: the newest span
//   traces_span_metrics_duration_seconds            histogram, OpenMetrics exemplar per bucket
//   traces_span_metrics_duration_seconds_percentiles summary {quantile, window} + _sum/_count{window}
// Exemplars only in OpenMetrics (text 0.0.4 has no syntax for them).

import type { SpanSeries, SpanStore } from '../../daemon/store/spans.js';
import { SPAN_FAMILIES } from '../../daemon/store/spans.js';
import { formatValue } from './naming.js';

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** ` # {trace_id="…",span_id="…"} value timestamp` for the exemplar in `bucket`, or ''. */
function exemplar(s: SpanSeries, bucket: number, value: number): string {
  const timeMs = s.exemplarTimeMs[bucket]!;
  if (bucket < 0 || Number.isNaN(timeMs)) return '';
  const ids = s.exemplarIds;
  const at = bucket * 24;
  let trace = '';
  for (let i = at; i < at + 16; i++) trace += HEX[ids[i]!];
  let span = '';
  for (let i = at + 16; i < at + 24; i++) span += HEX[ids[i]!];
  return ` # {trace_id="${trace}",span_id="${span}"} ${formatValue(value)} ${(timeMs / 1000).toFixed(3)}`;
}

/** Renders the span families (empty when no span series exist); OpenMetrics without `# EOF`. */
export function renderSpanFamilies(spans: SpanStore, format: 'text' | 'openmetrics'): string {
  if (spans.series.size === 0) return '';
  const om = format === 'openmetrics';
  const calls = SPAN_FAMILIES.calls;
  const duration = SPAN_FAMILIES.duration;
  const pct = SPAN_FAMILIES.percentiles;
  const bounds = spans.buckets;
  const bucketLabels = Array.from(bounds, (b) => `le="${formatValue(b)}"} `);
  bucketLabels.push('le="+Inf"} ');

  let callsText = `# HELP ${calls}${om ? '' : '_total'} Spans received, per service, span name, kind and status code.\n`;
  callsText += `# TYPE ${calls}${om ? '' : '_total'} counter\n`;
  let durationText = `# HELP ${duration} Span durations (end - start).\n# TYPE ${duration} histogram\n`;
  if (om) durationText += `# UNIT ${duration} seconds\n`;
  let pctText = '';
  const settings = spans.percentileSettings;
  for (const s of spans.series) {
    if (s.calls === 0) continue;
    callsText += `${calls}_total${s.labelText} ${formatValue(s.calls)}${om ? exemplar(s, s.latestExemplar, 1) : ''}\n`;
    let cumulative = 0;
    for (let i = 0; i < s.counts.length; i++) {
      cumulative += s.counts[i]!;
      durationText += `${duration}_bucket${s.labelOpen}${bucketLabels[i]}${formatValue(cumulative)}${om ? exemplar(s, i, s.exemplarValue[i]!) : ''}\n`;
    }
    durationText += `${duration}_sum${s.labelText} ${formatValue(s.sum)}\n${duration}_count${s.labelText} ${formatValue(s.calls)}\n`;
    if (s.percentiles === null) continue;
    for (let w = 0; w < settings.windowLabels.length; w++) {
      const snap = s.percentiles.snapshot(w);
      const window = `window="${settings.windowLabels[w]}"`;
      // An empty window has no quantiles ("no data", never NaN), only its zero count and sum.
      if (snap.values !== null) {
        for (let q = 0; q < settings.quantiles.length; q++) {
          pctText += `${pct}${s.labelOpen}quantile="${formatValue(settings.quantiles[q]!)}",${window}} ${formatValue(snap.values[q]!)}\n`;
        }
      }
      pctText += `${pct}_sum${s.labelOpen}${window}} ${formatValue(snap.sum)}\n${pct}_count${s.labelOpen}${window}} ${formatValue(snap.count)}\n`;
    }
  }
  if (pctText !== '') pctText = `# HELP ${pct} Span duration percentiles over sliding windows (HDR histogram).\n# TYPE ${pct} summary\n${pctText}`;
  return callsText + durationText + pctText;
}
