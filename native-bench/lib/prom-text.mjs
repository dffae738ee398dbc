// Just enough of the Prometheus text format (0.0.4 / OpenMetrics) to sum a counter's samples.

/** Parses `a="x",b="y"` label text (escapes \\ \" \n). */
function parseLabels(text) {
  const labels = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g;
  for (let m; (m = re.exec(text)) !== null;) labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  return labels;
}

/**
 * Every sample of metric `name` as { labels, value }. Matches `name` exactly, so
 * `vigil_points_accepted_total` does not pick up `vigil_points_accepted_total_created`.
 */
export function samples(text, name) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    let labels = {};
    let valueText;
    if (rest.startsWith('{')) {
      const close = rest.lastIndexOf('}');
      if (close < 0) continue;
      labels = parseLabels(rest.slice(1, close));
      valueText = rest.slice(close + 1);
    } else if (rest.startsWith(' ') || rest.startsWith('\t')) {
      valueText = rest;
    } else {
      continue;
    }
    const value = Number(valueText.trim().split(/\s+/)[0]);
    if (!Number.isNaN(value)) out.push({ labels, value });
  }
  return out;
}

/** Sum of `name`'s samples that pass `keep(labels)`; null when the metric has no samples at all. */
export function sumSamples(text, name, keep = () => true) {
  const found = samples(text, name);
  if (found.length === 0) return null;
  return found.filter((s) => keep(s.labels)).reduce((sum, s) => sum + s.value, 0);
}

/**
 * Whether the exposition declares counter `name` (a `# TYPE` line), even with no samples yet:
 * a labelled prom-client counter prints only its HELP and TYPE until first incremented.
 * OpenMetrics declares the family without the `_total` suffix.
 */
export function declares(text, name) {
  const family = name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
  return text.split('\n').some((line) => {
    const [hash, keyword, declared] = line.split(/\s+/);
    return hash === '#' && keyword === 'TYPE' && (declared === name || declared === family);
  });
}

/**
 * Every sample of the exposition whose metric name passes `keep(name)`, as a Map from a canonical
 * key (`name{a="x",b="y"}` with labels sorted by name, values unescaped then re-escaped) to the
 * sample's value text. Comments, `# EOF`, timestamps and exemplars are dropped. Throws on a line
 * it cannot read, or on a series that appears twice.
 */
export function seriesMap(text, keep = () => true) {
  const out = new Map();
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end);
    at = end + 1;
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
    if (nameEnd <= 0) throw new Error(`unreadable sample line: ${line.slice(0, 120)}`);
    const name = line.slice(0, nameEnd);
    if (!keep(name)) continue;
    let rest = line.slice(nameEnd);
    let labels = {};
    if (rest.startsWith('{')) {
      const close = closingBrace(rest);
      if (close < 0) throw new Error(`unterminated label set: ${line.slice(0, 120)}`);
      labels = parseLabels(rest.slice(1, close));
      rest = rest.slice(close + 1);
    }
    const value = rest.trim().split(/\s+/)[0];
    if (value === undefined || value === '') throw new Error(`sample without a value: ${line.slice(0, 120)}`);
    const key = `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
    if (out.has(key)) throw new Error(`series appears twice: ${key}`);
    out.set(key, value);
  }
  return out;
}

/** Index of the `}` closing a label set that starts at 0, skipping quoted values. */
function closingBrace(text) {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === '}') {
      return i;
    }
  }
  return -1;
}

/**
 * Compares two series maps: `{ missing, extra, differing }` (keys only in `expected`, keys only in
 * `actual`, keys whose values differ as numbers), each capped at `limit` examples, plus counts.
 */
export function compareSeries(expected, actual, limit = 5) {
  const result = { missing: [], extra: [], differing: [], missingCount: 0, extraCount: 0, differingCount: 0 };
  for (const [key, value] of expected) {
    if (!actual.has(key)) {
      if (result.missingCount++ < limit) result.missing.push(key);
    } else if (Number(actual.get(key)) !== Number(value) && !(Number.isNaN(Number(value)) && Number.isNaN(Number(actual.get(key))))) {
      if (result.differingCount++ < limit) result.differing.push({ key, expected: value, actual: actual.get(key) });
    }
  }
  for (const key of actual.keys()) {
    if (!expected.has(key) && result.extraCount++ < limit) result.extra.push(key);
  }
  return result;
}
