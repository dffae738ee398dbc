// The root package.json forwards the bench scripts to native-bench/. Without a `--` at the end of
// the forwarding command, `npm run bench -- --quick --no-docs` handed both flags to npm as its own
// config ("Unknown cli config --quick") and ran the full suite, rewriting docs/performance.md.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
const forwarding = Object.entries(scripts).filter(([, command]) => command.startsWith('npm --prefix native-bench run '));

describe('root package.json bench scripts', () => {
  it('end every forwarding command with --, so the flags after `npm run X --` reach native-bench', () => {
    assert.ok(forwarding.length >= 2, 'bench scripts forward to native-bench');
    assert.deepEqual(forwarding.filter(([, command]) => !command.endsWith(' --')).map(([name]) => name), []);
  });

  it('regression: npm run bench -- --list --quick --no-docs hands the flags to run-all.mjs', (t) => {
    // Run for real only when the static check holds: the broken script would start the whole suite.
    if (forwarding.some(([, command]) => !command.endsWith(' --'))) {
      t.skip('a forwarding command lacks --');
      return;
    }
    const run = spawnSync('npm', ['run', 'bench', '--', '--list', '--quick', '--no-docs'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    if (run.error) throw run.error;
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /node run-all\.mjs --list --quick --no-docs/);
    assert.match(run.stdout, /^ingest-metrics\s/m, 'run-all.mjs listed its scenarios instead of running them');
    assert.doesNotMatch(run.stderr, /Unknown cli config/);
  });
});
