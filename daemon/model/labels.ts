// Label text: a series' labels as the exposition writes them, `{a="b",c="d"}`, built once per series
// and kept as its only copy of the labels. Below the store and every exporter (STYLE.md 14).

import { escapeLabelValue } from './naming.js';

/** `{a="b",c="d"}` of flat [name, value, …] labels ('' for none), as one flat string (no rope of concatenations). */
export function renderLabelText(labels: readonly string[]): string {
  if (labels.length === 0) return '';
  const parts: string[] = ['{'];
  for (let i = 0; i + 1 < labels.length; i += 2) parts.push(i > 0 ? ',' : '', labels[i]!, '="', escapeLabelValue(labels[i + 1]!), '"');
  parts.push('}');
  return parts.join('');
}

/** The inverse of renderLabelText: label names never contain `=` or `"`; values are unescaped. */
export function parseLabelText(text: string): string[] {
  const out: string[] = [];
  let at = 1;
  while (at < text.length - 1) {
    const eq = text.indexOf('="', at);
    if (eq < 0) throw new Error(`malformed label text: ${text}`);
    out.push(text.slice(at, eq));
    let value = '';
    let from = eq + 2;
    let i = from;
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] !== '\\') continue;
      const next = text[i + 1];
      value += text.slice(from, i) + (next === 'n' ? '\n' : next);
      i++;
      from = i + 1;
    }
    out.push(value + text.slice(from, i));
    at = i + 2; // past the closing quote and the comma
  }
  return out;
}
