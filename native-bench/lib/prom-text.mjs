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
