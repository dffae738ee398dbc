// OTLP → Prometheus names, units and labels, per the OpenTelemetry specification
// "Prometheus and OpenMetrics Compatibility" (OTLP Metric points to Prometheus), with the unit
// tables of the Collector's pkg/translator/prometheus. Also the escaping and number formatting
// shared by the text 0.0.4 and OpenMetrics 1.0 renderers.
//
// These run in the decode workers once per new series, and in the renderer once per cached
// series text, so they favour clarity over micro-optimisation but avoid work on the common
// (already valid) input.

/** UCUM unit → Prometheus unit word (plural, as in `_seconds`). */
const UNIT_WORDS: Readonly<Record<string, string>> = {
  // Time
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  // Bytes
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tebibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  // SI
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  // Misc
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
  // A dimensionless `1` inside a compound unit (`1/s`) says nothing; alone it is handled below.
  '1': '',
};

/** UCUM unit after `/` → singular word (`By/s` → `bytes_per_second`). */
const PER_UNIT_WORDS: Readonly<Record<string, string>> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

const INVALID_METRIC_CHARS = /[^a-zA-Z0-9_:]/g;
const INVALID_LABEL_CHARS = /[^a-zA-Z0-9_]/g;
const INVALID_UNIT_CHARS = /[^a-zA-Z0-9]+/g;
const UNDERSCORE_RUNS = /__+/g;
const ANNOTATIONS = /\{[^}]*\}/g;
const TOTAL_SUFFIX = '_total';

/**
 * Translates an OTLP metric name and UCUM unit into a Prometheus family name (with the unit
 * suffix, without the counter's `_total`, which the renderer adds) and the unit word for
 * OpenMetrics `# UNIT` ('' when none).
 */
export function familyName(
  otlpName: string,
  otlpUnit: string,
  type: 'counter' | 'gauge' | 'histogram' | 'summary',
): { name: string; unit: string } {
  let name = otlpName.replace(INVALID_METRIC_CHARS, '_').replace(UNDERSCORE_RUNS, '_');
  if (name === '') return { name: '', unit: '' };
  if (type === 'counter' && name.length > TOTAL_SUFFIX.length && name.endsWith(TOTAL_SUFFIX)) {
    name = name.slice(0, -TOTAL_SUFFIX.length);
  }
  const unit = unitWord(otlpUnit, type);
  // OpenMetrics requires a family with a UNIT to end in `_<unit>`, hence "ends with" rather than
  // the Collector's "contains the token anywhere".
  if (unit !== '' && name !== unit && !name.endsWith(`_${unit}`)) {
    name = `${name}_${unit}`.replace(UNDERSCORE_RUNS, '_');
  }
  if (isDigit(name.charCodeAt(0))) name = `_${name}`;
  return { name, unit };
}

/** The Prometheus unit word for a UCUM unit ('' when unitless). */
function unitWord(otlpUnit: string, type: string): string {
  const unit = otlpUnit.trim();
  // `1` means "ratio" only for gauges: receivers often put `1` on counts of things, and a
  // counter of ratios is meaningless (the Collector's rule, which the spec's wording allows).
  if (unit === '1') return type === 'gauge' ? 'ratio' : '';
  const withoutAnnotations = unit.replace(ANNOTATIONS, '').trim();
  if (withoutAnnotations === '') return '';
  const slash = withoutAnnotations.indexOf('/');
  const main = slash < 0 ? withoutAnnotations : withoutAnnotations.slice(0, slash).trim();
  const per = slash < 0 ? '' : withoutAnnotations.slice(slash + 1).trim();
  const parts: string[] = [];
  const mainWord = cleanUnit(UNIT_WORDS[main] ?? main);
  if (mainWord !== '') parts.push(mainWord);
  const perWord = cleanUnit(PER_UNIT_WORDS[per] ?? per);
  if (perWord !== '') parts.push('per', perWord);
  return parts.join('_');
}

/** Unit words keep letters and digits only, joined by single underscores. */
function cleanUnit(word: string): string {
  return word.replace(INVALID_UNIT_CHARS, '_').replace(/^_+|_+$/g, '');
}

/**
 * Labels the renderer adds to each family type's samples, which an attribute must not take:
 * a second `le` on a bucket made the whole exposition unparsable (promtool, Prometheus) for
 * every series of every sender. Histograms also carry the `<name>_percentiles` summary
 * (`quantile`, `window`) on the same label set; span RED families carry all three.
 */
export const RESERVED_LABELS: Readonly<Record<'histogram' | 'summary' | 'spans', readonly string[]>> = {
  histogram: ['le', 'quantile', 'window'],
  summary: ['quantile'],
  spans: ['le', 'quantile', 'window'],
};

/**
 * Turns OTLP attributes into a Prometheus label set: flat [name0, value0, name1, value1, …]
 * sorted by name, names sanitised, colliding names merged, empty values dropped. A name in
 * `reserved` becomes `exported_<name>`, as Prometheus renames a scraped label that collides
 * with a target label.
 */
export function labelSet(pairs: Array<[string, string]>, reserved: readonly string[] = []): string[] {
  // Sorting by the original key first makes merged values come out in that key order, as the
  // spec requires; the second sort orders the sanitised names.
  const sorted = pairs.filter(([key, value]) => key !== '' && value !== '').sort(compareKeys);
  const merged = new Map<string, string>();
  for (const [key, value] of sorted) {
    let name = labelName(key);
    if (reserved.includes(name)) name = `exported_${name}`;
    const previous = merged.get(name);
    merged.set(name, previous === undefined ? value : `${previous};${value}`);
  }
  const names = [...merged.keys()].sort();
  const flat: string[] = new Array<string>(names.length * 2);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    flat[2 * i] = name;
    flat[2 * i + 1] = merged.get(name)!;
  }
  return flat;
}

function compareKeys(a: [string, string], b: [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * A valid label name for an attribute key. Runs of `_` collapse (spec MUST), which also keeps
 * attributes out of Prometheus' reserved `__` namespace (`__name__` → `_name_`).
 */
function labelName(key: string): string {
  const name = key.replace(INVALID_LABEL_CHARS, '_').replace(UNDERSCORE_RUNS, '_');
  return isDigit(name.charCodeAt(0)) ? `key_${name}` : name;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

const LABEL_VALUE_SPECIALS = /[\\"\n]/;
const HELP_SPECIALS = /[\\\n]/;
const HELP_SPECIALS_OM = /[\\"\n]/;

/** Escapes a label value for both formats: `\` → `\\`, `"` → `\"`, newline → `\n`. */
export function escapeLabelValue(v: string): string {
  if (!LABEL_VALUE_SPECIALS.test(v)) return v;
  return v.replace(/[\\"\n]/g, escapeChar);
}

/** Escapes HELP text: `\` and newline in text 0.0.4; OpenMetrics also escapes `"`. */
export function escapeHelp(v: string, openMetrics: boolean): string {
  if (openMetrics) {
    return HELP_SPECIALS_OM.test(v) ? v.replace(/[\\"\n]/g, escapeChar) : v;
  }
  return HELP_SPECIALS.test(v) ? v.replace(/[\\\n]/g, escapeChar) : v;
}

function escapeChar(c: string): string {
  return c === '\n' ? '\\n' : `\\${c}`;
}

/**
 * A sample value as both formats spell it: `NaN`, `+Inf`, `-Inf`, otherwise the shortest
 * decimal that parses back to the same float64. Integers below 1e21 print without an exponent
 * (exactly up to 2^53); Go's ParseFloat and OpenMetrics parsers read every form produced.
 */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * `{k0="v0",k1="v1"}` from a flat label set, with `extra` (already formatted, e.g. `le="0.5"`)
 * appended; '' when there is nothing to show.
 */
export function labelText(flat: string[], extra?: string): string {
  if (flat.length === 0) return extra === undefined || extra === '' ? '' : `{${extra}}`;
  let text = '{';
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (i > 0) text += ',';
    text += `${flat[i]}="${escapeLabelValue(flat[i + 1]!)}"`;
  }
  if (extra !== undefined && extra !== '') text += `,${extra}`;
  return `${text}}`;
}
