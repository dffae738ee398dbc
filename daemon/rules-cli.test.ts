// `vigil rules` through the real launcher (bin/vigil.js → dist/daemon/cli.js): output to a file
// or stdout that promtool accepts, and usage errors with exit code 2.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function vigil(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(root, 'bin/vigil.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const CONFIG = join(dir, 'vigil.yaml');
writeFileSync(
  CONFIG,
  `components: [{ id: api }]
slos:
  - { id: api-availability, component: api, objective: 99.9, window: 28d, indicator: { availability: { spans: { service: checkout } } } }
`,
);

describe('vigil rules', () => {
  test('--output writes a rule file promtool accepts, with the SLO and its 28d thresholds', () => {
    const out = join(dir, 'rules.yml');
    const result = vigil('rules', '--config', CONFIG, '--output', out, '--status-url', 'https://status.example.com');
    assert.equal(result.status, 0, result.stderr);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /window="1h"\} >= 13\.44/);
    assert.match(text, /status_page: https:\/\/status\.example\.com\//);
    const check = spawnSync('promtool', ['check', 'rules', out], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });

  test('stderr names the largest group and its rule count, for Mimir\'s per-group limit', () => {
    const out = join(dir, 'rules-count.yml');
    const result = vigil('rules', '--config', CONFIG, '--output', out);
    assert.equal(result.status, 0, result.stderr);
    // Count the rules of each group in the written file itself.
    const counts = new Map<string, number>();
    let group = '';
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      const name = /^  - name: (\S+)$/.exec(line);
      if (name) group = name[1]!;
      else if (/^      - (record|alert): /.test(line)) counts.set(group, (counts.get(group) ?? 0) + 1);
    }
    const [largest, most] = [...counts].reduce((a, b) => (b[1] > a[1] ? b : a));
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    assert.match(result.stderr, new RegExp(`^vigil rules: ${counts.size} groups, ${total} rules; the largest, ${largest}, has ${most} \\(Mimir's ruler needs ruler_max_rules_per_rule_group of 0 or at least ${most} for the tenant; default 20\\)\n$`));
  });

  test('stdout by default; --interval sets the group interval', () => {
    const result = vigil('rules', '-c', CONFIG, '--interval', '30s');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /interval: 30s/);
    assert.match(result.stdout, /offset 30s/);
  });

  test('--name labels the internal series, which the rules then select by that label alone', () => {
    const result = vigil('rules', '-c', CONFIG, '--name', 'team-a');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /vigil:slo_events:window_increase\{vigil_rules="team-a",window=/);
    assert.doesNotMatch(result.stdout, /vigil_rules="vigil"/);
  });

  test('usage errors exit 2 and name the flag', () => {
    for (const [args, message] of [
      [['--interval', '7s'], /--interval must divide the 5m window/],
      [['--interval', 'soon'], /--interval: must be a duration of whole seconds/],
      [['--block', '90s', '--interval', '1m'], /--block must be a multiple of --interval/],
      [['--status-url', 'status.example.com'], /--status-url: must be an http\(s\) URL/],
      [['--name', 'team a'], /--name must be letters, digits/],
      [['--frobnicate'], /unknown option: --frobnicate/],
    ] as const) {
      const result = vigil('rules', '-c', CONFIG, ...args);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  });

  test('an invalid config exits 2 with its errors', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'slos: [{ id: x, component: nope, objective: 100, window: 30d, indicator: { availability: { spans: { service: s } } } }]\n');
    const result = vigil('rules', '-c', bad);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /slos\[0\]\.objective: must be below 100/);
  });
});
