// A small-multiples line chart as standalone SVG text (no dependencies): one panel per series,
// a shared time axis in minutes, the y range from 0 (or the minimum when it is far from 0) to the
// maximum, and an optional shaded warm-up band and fitted trend line per panel.

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A tick step of 1, 2 or 5 × 10^k giving about `count` steps over `span`. */
function niceStep(span, count) {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

function fmt(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 100) return Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, '');
  return v.toPrecision(2);
}

/**
 * `panels`: [{ title, unit, points: [[minute, value|null], …], trend?: { slope, intercept } (per minute) }].
 * Returns the SVG document as a string.
 */
export function smallMultiples({ title, subtitle = '', panels, warmupMinutes = 0, columns = 2, width = 960, panelHeight = 170 }) {
  const pad = { left: 64, right: 16, top: 28, bottom: 30 };
  const header = subtitle ? 52 : 36;
  const rows = Math.ceil(panels.length / columns);
  const panelWidth = width / columns;
  const height = header + rows * panelHeight + 8;
  const allX = panels.flatMap((p) => p.points.map(([x]) => x));
  const xMax = Math.max(1, ...allX);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="12" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`);
  if (subtitle) out.push(`<text x="12" y="38" fill="#555">${esc(subtitle)}</text>`);
  panels.forEach((panel, i) => {
    const ox = (i % columns) * panelWidth;
    const oy = header + Math.floor(i / columns) * panelHeight;
    const w = panelWidth - pad.left - pad.right;
    const h = panelHeight - pad.top - pad.bottom;
    const values = panel.points.map(([, y]) => y).filter((y) => y !== null && Number.isFinite(y));
    let yMin = Math.min(0, ...values);
    let yMax = Math.max(...values, 0);
    // Far from zero (memory in MiB, fds): start the axis near the data so a trend is visible.
    if (values.length && Math.min(...values) > 0.5 * yMax) yMin = Math.min(...values) - 0.1 * (yMax - Math.min(...values) || yMax * 0.05 || 1);
    if (yMax === yMin) yMax = yMin + 1;
    const step = niceStep(yMax - yMin, 4);
    yMin = Math.floor(yMin / step) * step;
    yMax = Math.ceil(yMax / step) * step;
    const sx = (x) => ox + pad.left + (x / xMax) * w;
    const sy = (y) => oy + pad.top + h - ((y - yMin) / (yMax - yMin)) * h;
    out.push(`<g>`);
    out.push(`<text x="${ox + pad.left}" y="${oy + 18}" font-weight="bold">${esc(panel.title)}${panel.unit ? ` (${esc(panel.unit)})` : ''}</text>`);
    if (warmupMinutes > 0) out.push(`<rect x="${sx(0)}" y="${oy + pad.top}" width="${sx(Math.min(warmupMinutes, xMax)) - sx(0)}" height="${h}" fill="#f0f0f0"/>`);
    for (let y = yMin; y <= yMax + step / 2; y += step) {
      out.push(`<line x1="${ox + pad.left}" x2="${ox + pad.left + w}" y1="${sy(y)}" y2="${sy(y)}" stroke="#ddd"/>`);
      out.push(`<text x="${ox + pad.left - 6}" y="${sy(y) + 4}" text-anchor="end" fill="#444">${fmt(y)}</text>`);
    }
    const xStep = niceStep(xMax, 6);
    for (let x = 0; x <= xMax + xStep / 2; x += xStep) {
      out.push(`<text x="${sx(x)}" y="${oy + pad.top + h + 14}" text-anchor="middle" fill="#444">${fmt(x)}</text>`);
    }
    out.push(`<text x="${ox + pad.left + w}" y="${oy + pad.top + h + 26}" text-anchor="end" fill="#777">minutes</text>`);
    out.push(`<rect x="${ox + pad.left}" y="${oy + pad.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
    const segments = [];
    let current = [];
    for (const [x, y] of panel.points) {
      if (y === null || !Number.isFinite(y)) {
        if (current.length) segments.push(current);
        current = [];
      } else current.push(`${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
    }
    if (current.length) segments.push(current);
    for (const seg of segments) {
      if (seg.length === 1) out.push(`<circle cx="${seg[0].split(',')[0]}" cy="${seg[0].split(',')[1]}" r="2" fill="#1f77b4"/>`);
      else out.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${seg.join(' ')}"/>`);
    }
    if (panel.trend && Number.isFinite(panel.trend.slope)) {
      const x0 = panel.trend.from ?? warmupMinutes;
      const y0 = panel.trend.intercept + panel.trend.slope * x0;
      const y1 = panel.trend.intercept + panel.trend.slope * xMax;
      out.push(`<line x1="${sx(x0)}" y1="${sy(y0)}" x2="${sx(xMax)}" y2="${sy(y1)}" stroke="#d62728" stroke-dasharray="4 3"/>`);
    }
    if (panel.note) out.push(`<text x="${ox + pad.left + w}" y="${oy + 18}" text-anchor="end" fill="#d62728">${esc(panel.note)}</text>`);
    out.push(`</g>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Least-squares line through [[x, y], …] (nulls skipped): { slope, intercept, n }. */
export function linearFit(points) {
  const pts = points.filter(([, y]) => y !== null && Number.isFinite(y));
  const n = pts.length;
  if (n < 2) return { slope: NaN, intercept: NaN, n };
  const mx = pts.reduce((a, [x]) => a + x, 0) / n;
  const my = pts.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of pts) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx, n };
}
