#!/usr/bin/env node
// HDR accuracy: values from several distributions go through Vigil's own percentile code (the
// compiled dist/daemon/percentiles, exactly what the daemon runs), and every quantile Vigil
// exports is compared with the exact quantile of the sorted values, same rank rule.
//
//   node hdr-accuracy.mjs [--quick] [--skip-build]
//
// Bound: docs/configuration.md promises a relative error of at most 10^-digits
// (`percentiles.significant_digits`) for values inside the tracked range. The run fails when any
// quantile of any distribution exceeds it, or a window's count differs from the values recorded.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildIfNeeded, commandLine, figure, repoRoot, writeResult } from './lib/result.mjs';
import { random } from './lib/random.mjs';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, 'skip-build': { type: 'boolean', default: false } } });
const log = (m) => process.stderr.write(`hdr-accuracy: ${m}\n`);
if (!args['skip-build']) buildIfNeeded(log);
const pct = await import(pathToFileURL(join(repoRoot, 'dist', 'daemon', 'percentiles', 'index.js')).href);
const { createPercentiles, spanPercentileSettings, metricPercentileSettings, DEFAULT_QUANTILES, DEFAULT_WINDOWS_MS, DEFAULT_WINDOW_LABELS, DEFAULT_SIGNIFICANT_DIGITS } = pct;

const N = args.quick ? 20_000 : 200_000;
const DIGITS = args.quick ? [DEFAULT_SIGNIFICANT_DIGITS] : [1, DEFAULT_SIGNIFICANT_DIGITS, 3];
// Values are recorded over this long, so the 1m window is made of several finished (encoded) slots
// plus the live one; the snapshot is taken before the first of them can leave the window.
const SPREAD_MS = 50_000;

const rand = random(20261122);
const u = () => rand() || Number.MIN_VALUE;
const gaussian = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * rand());

// Span durations are seconds in [1 µs, 1 h]; metric sources are centred on their first point.
const DISTRIBUTIONS = [
  { name: 'uniform 1 ms – 1 s', source: 'span', draw: () => 0.001 + rand() * 0.999 },
  { name: 'normal μ 100 ms σ 15 ms', source: 'span', draw: () => Math.max(1e-6, 0.1 + 0.015 * gaussian()) },
  { name: 'lognormal median 20 ms σ 1', source: 'span', draw: () => 0.02 * Math.exp(gaussian()) },
  { name: 'exponential mean 50 ms', source: 'span', draw: () => -0.05 * Math.log(u()) },
  { name: 'bimodal 5 ms / 800 ms (90/10)', source: 'span', draw: () => (rand() < 0.9 ? Math.max(1e-6, 0.005 + 0.0005 * gaussian()) : 0.8 + 0.08 * gaussian()) },
  { name: 'Pareto α 1.1 from 1 ms (≤ 1 h)', source: 'span', draw: () => Math.min(3600, 0.001 * u() ** (-1 / 1.1)) },
  { name: 'constant 42.1337 ms', source: 'span', draw: () => 0.0421337 },
  { name: 'tiny: uniform 1 – 10 µs', source: 'span', draw: () => 1e-6 + rand() * 9e-6 },
  { name: 'huge: uniform 10 min – 1 h', source: 'span', draw: () => 600 + rand() * 3000 },
  { name: 'metric, bytes: lognormal median 1 MB σ 2', source: 'metric', center: 1e6, draw: () => 1e6 * Math.exp(2 * gaussian()) },
  { name: 'metric, tiny: lognormal median 3·10⁻⁹ σ 0.5', source: 'metric', center: 3e-9, draw: () => 3e-9 * Math.exp(0.5 * gaussian()) },
];

const defaults = (digits) => ({ significantDigits: digits, windowsMs: [...DEFAULT_WINDOWS_MS], windowLabels: [...DEFAULT_WINDOW_LABELS], quantiles: [...DEFAULT_QUANTILES] });
const rankOf = (q, n) => {
  // hdr-histogram-js's rule, which Vigil follows (windows.ts): rank = max(ceil(q·n − ulp), 1).
  const exact = q * n;
  const ulp = exact === 0 ? 0 : 2 ** (Math.floor(Math.log2(exact)) - 52);
  return Math.max(Math.ceil(exact - ulp), 1);
};

const rows = [];
let ok = true;
let lost = 0;
for (const digits of DIGITS) {
  const bound = 10 ** -digits;
  for (const dist of DISTRIBUTIONS) {
    const values = new Float64Array(N);
    for (let i = 0; i < N; i++) values[i] = dist.draw();
    let clock = 1_800_000_000_000; // a slot boundary, like a real clock's minutes
    const settings = dist.source === 'span' ? spanPercentileSettings(defaults(digits)) : metricPercentileSettings(defaults(digits), dist.center);
    const p = createPercentiles(settings, () => clock);
    const start = clock;
    for (let i = 0; i < N; i++) {
      clock = start + Math.floor((i / N) * SPREAD_MS);
      p.record(values[i], 1);
    }
    clock = start + SPREAD_MS + 1000;
    const sorted = values.slice().sort();
    const perWindow = settings.windowsMs.map((_, w) => p.snapshot(w));
    const worst = {};
    let rowOk = true;
    perWindow.forEach((snap, w) => {
      if (snap.count !== N) {
        rowOk = false;
        lost += Math.abs(N - snap.count);
        log(`FAIL ${dist.name} @${digits} digits: window ${settings.windowLabels[w]} counts ${snap.count} of ${N}`);
      }
      settings.quantiles.forEach((q, i) => {
        const exact = sorted[rankOf(q, N) - 1];
        const error = Math.abs(snap.values[i] - exact) / exact;
        if (!(error <= (worst[q]?.error ?? -1))) worst[q] = { error, reported: snap.values[i], exact, window: settings.windowLabels[w] };
      });
    });
    const worstOverall = Math.max(...Object.values(worst).map((x) => x.error));
    if (!(worstOverall <= bound)) rowOk = false;
    ok &&= rowOk;
    rows.push({ distribution: dist.name, source: dist.source, significantDigits: digits, bound, values: N, worstRelativeError: worstOverall, withinBound: rowOk, quantiles: Object.fromEntries(Object.entries(worst).map(([q, x]) => [q, { ...x, error: Number(x.error.toPrecision(3)) }])) });
    log(`${rowOk ? 'ok  ' : 'FAIL'} ${digits} digits  ${dist.name.padEnd(44)} worst ${(worstOverall * 100).toFixed(4)} % (bound ${bound * 100} %)`);
  }
}

// The table's figures: per quantile, the worst error over every distribution at each precision.
const figures = [];
for (const digits of DIGITS) {
  const bound = 10 ** -digits;
  for (const q of DEFAULT_QUANTILES) {
    const worst = Math.max(...rows.filter((r) => r.significantDigits === digits).map((r) => r.quantiles[q].error));
    figures.push(figure({ name: `worst relative error of q${q}, ${digits} significant digit${digits > 1 ? 's' : ''}, ${DISTRIBUTIONS.length} distributions`, value: worst, unit: 'ratio', reference: 'exact sorted-array quantile; documented bound 10^-digits', referenceValue: bound, target: `≤ ${bound}`, met: worst <= bound }));
  }
}
const path = writeResult('hdr-accuracy', {
  command: commandLine('npm run bench:hdr-accuracy'), ok, lost, figures,
  method: `${N} values per distribution recorded into one HdrWindows (dist/daemon/percentiles) over ${SPREAD_MS / 1000} s of an injected clock, every window snapshotted, each exported quantile compared with the sorted array's value of the same rank (rank = max(ceil(q·n − ulp), 1)); error = |reported − exact| ÷ exact.`,
  distributions: rows,
});
log(`wrote ${path}${ok ? '' : ' — FAILED'}`);
process.exit(ok ? 0 : 1);
