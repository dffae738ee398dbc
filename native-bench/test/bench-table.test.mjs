import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatNumber, renderTable, replaceTable, tableRows, TABLE_BEGIN, TABLE_END } from '../lib/bench-table.mjs';

const ingest = {
  scenario: 'ingest-metrics',
  command: 'cd native-bench && npm run bench:ingest',
  ok: true,
  lost: 0,
  figures: [
    { name: 'data points per daemon CPU-second', value: 505127, unit: 'points/CPU-s', reference: 'grpc-js no-op server', referenceValue: 2352360, ratio: 0.215, target: '≥ 500,000', met: true },
    { name: 'data points/s', value: 556610.4, unit: 'points/s' },
  ],
};
const meta = { date: '2026-11-22T17:00:00.123Z', machine: { cpus: 2, cpuModel: 'AMD EPYC', node: 'v20.20.2' }, commit: { head: 'abc1234', dirty: false }, command: 'npm run bench', totalSeconds: 412.4 };

test('formats numbers with separators, small ones to three significant digits', () => {
  assert.equal(formatNumber(2352360), '2,352,360');
  assert.equal(formatNumber(0.21534), '0.215');
  assert.equal(formatNumber(1.5), '1.5');
  assert.equal(formatNumber(null), '–');
  assert.equal(formatNumber(Number.NaN), '–');
});

test('one row per figure: value, reference, ratio, target, met', () => {
  const rows = tableRows([{ scenario: 'ingest-metrics', status: 'ok', result: ingest }]);
  assert.equal(rows.length, 4);
  assert.equal(rows[2], '| ingest-metrics | data points per daemon CPU-second | 505,127 points/CPU-s | grpc-js no-op server: 2,352,360 points/CPU-s | 0.215 | ≥ 500,000 | yes |');
  assert.equal(rows[3], '| ingest-metrics | data points/s | 556,610 points/s |  |  |  |  |');
});

test('a missing, failed or lossy scenario is named as such', () => {
  const rows = tableRows([
    { scenario: 'scrape', status: 'missing' },
    { scenario: 'memory', status: 'timeout', reason: 'killed after 360 s' },
    { scenario: 'workers', status: 'lost', result: { ...ingest, lost: 3, figures: [{ ...ingest.figures[0], met: false }] } },
  ]);
  assert.equal(rows[2], '| scrape | not run: script missing | | | | | |');
  assert.equal(rows[3], '| memory | TIMED OUT: killed after 360 s | | | | | |');
  assert.match(rows[4], /^\| workers \(LOST DATA\) \| .* \| \*\*no\*\* \|$/);
});

test('the block names machine, Node, commit, date and command, and lists each status', () => {
  const block = renderTable([{ scenario: 'ingest-metrics', status: 'ok', seconds: 31, result: ingest }, { scenario: 'scrape', status: 'missing' }], meta);
  assert.ok(block.startsWith(TABLE_BEGIN) && block.endsWith(TABLE_END));
  assert.match(block, /2026-11-22 17:00:00 UTC, commit `abc1234`, 2 × AMD EPYC, Node v20\.20\.2; `npm run bench` took 412 s/);
  assert.match(block, /- \*\*ingest-metrics\*\*: ok, 31 s, lost 0, `cd native-bench && npm run bench:ingest`/);
  assert.match(block, /- \*\*scrape\*\*: not run: script missing$/m);
});

test('replaces between the markers and leaves the rest of the document alone', () => {
  const doc = `# Performance\n\nIntro.\n\n${TABLE_BEGIN}\nold\n${TABLE_END}\n\n## Section\n`;
  assert.equal(replaceTable(doc, `${TABLE_BEGIN}\nnew\n${TABLE_END}`), `# Performance\n\nIntro.\n\n${TABLE_BEGIN}\nnew\n${TABLE_END}\n\n## Section\n`);
});

test('without markers, inserts the block after the opening paragraph', () => {
  const doc = '# Performance\n\nIntro line one\nline two.\n\n## Section\n';
  assert.equal(replaceTable(doc, 'BLOCK'), '# Performance\n\nIntro line one\nline two.\n\nBLOCK\n\n## Section\n');
  assert.throws(() => replaceTable(`x ${TABLE_BEGIN} y`, 'BLOCK'), /unbalanced/);
});

// run-all.mjs end to end over stand-in scenarios: one passes, one loses data, one fails, one hangs,
// the rest are missing. None of them is committed; they live in a temp dir for this test only.
test('run-all reports missing, failed, lossy and hung scenarios and exits non-zero', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-run-all-'));
  try {
    mkdirSync(join(dir, 'results'));
    const standIn = (name, { lost = 0, ok = true, exit = 0, hang = false }) => `import { writeFileSync } from 'node:fs';
${hang ? 'setInterval(() => {}, 1000);' : ''}
writeFileSync(new URL('./results/${name}.json', import.meta.url), JSON.stringify({ scenario: '${name}', ok: ${ok}, lost: ${lost}, command: 'stand-in ' + process.argv.slice(2).join(' '),
  figures: [{ name: 'things/s', value: 1000, unit: 'things/s', reference: 'peer', referenceValue: 500, ratio: 2, target: 'ratio ≥ 1', met: true }] }));
${hang ? '' : `process.exit(${exit});`}`;
    writeFileSync(join(dir, 'ingest.mjs'), standIn('ingest-metrics', {}));
    writeFileSync(join(dir, 'workers.mjs'), standIn('workers', { lost: 2 }));
    writeFileSync(join(dir, 'status.mjs'), standIn('status-api', { ok: false, exit: 1 }));
    writeFileSync(join(dir, 'hdr-accuracy.mjs'), standIn('hdr-accuracy', { hang: true }));
    const docs = join(dir, 'performance.md');
    writeFileSync(docs, '# Performance\n\nIntro.\n\n## Ingest\n');
    const runAll = fileURLToPath(new URL('../run-all.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [runAll, '--scenario-dir', dir, '--docs', docs, '--skip-build', '--quick', '--timeout-scale', '0.02',
      '--only', 'ingest-metrics,workers,status-api,scrape,hdr-accuracy'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    const written = readFileSync(docs, 'utf8');
    assert.match(written, /^# Performance\n\nIntro\.\n\n<!-- bench:table:begin -->/);
    assert.match(written, /\| ingest-metrics \| things\/s \| 1,000 things\/s \| peer: 500 things\/s \| 2 \| ratio ≥ 1 \| yes \|/);
    assert.match(written, /- \*\*ingest-metrics\*\*: ok, \d+ s, lost 0, `stand-in --quick`/);
    assert.match(written, /\| workers \(LOST DATA\) \|/);
    assert.match(written, /\| status-api \(FAILED\) \|/);
    assert.match(written, /\| scrape \| not run: script missing \|/);
    assert.match(written, /\| hdr-accuracy \(TIMED OUT\) \|/);
    assert.doesNotMatch(written, /ingest-spans|memory/);
    assert.match(written, /<!-- bench:table:end -->\n\n## Ingest\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
