// Runs the real `vigil` launcher (bin/vigil.js → dist/daemon/cli.js), so build first.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function vigil(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(root, 'bin/vigil.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function writeConfig(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('vigil', () => {
  test('--version prints the package.json version', () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const result = vigil(flag);
      assert.equal(result.status, 0);
      assert.equal(result.stdout, `${version}\n`);
    }
  });

  test('--help, -h and help print the usage and exit 0', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const result = vigil(...args);
      assert.equal(result.status, 0, args.join(' '));
      assert.match(result.stdout, /^Usage: vigil <command>/);
      assert.match(result.stdout, /check-config FILE/);
      assert.equal(result.stderr, '');
    }
  });

  test('start --help and help start print the start flags', () => {
    for (const args of [['start', '--help'], ['help', 'start']]) {
      const result = vigil(...args);
      assert.equal(result.status, 0, args.join(' '));
      assert.match(result.stdout, /^Usage: vigil start/);
      for (const flag of ['--config FILE', '--otlp-grpc HOST:PORT', '--metrics HOST:PORT', '--status HOST:PORT', '--data-dir DIR']) {
        assert.ok(result.stdout.includes(flag), `${args.join(' ')} mentions ${flag}`);
      }
    }
  });

  test('no command prints the usage to stderr and exits 2', () => {
    const result = vigil();
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^Usage: vigil <command>/);
  });

  test('an unknown command exits 2', () => {
    const result = vigil('stat');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^vigil: unknown command: stat\n\nUsage: vigil <command>/);
  });

  test('an unknown flag exits 2 with a message and the usage', () => {
    const result = vigil('start', '--otlp-grcp', '127.0.0.1:0');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^vigil: unknown option: --otlp-grcp\n\nUsage: vigil start/);
    assert.equal(result.stdout, '');
  });

  test('an unknown top-level flag exits 2', () => {
    const result = vigil('--verbose');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^vigil: unknown option: --verbose\n/);
  });
});

describe('vigil check-config', () => {
  test('a good file prints "FILE: ok" and exits 0', () => {
    const file = writeConfig('good.yaml', 'otlp:\n  grpc:\n    endpoint: 0.0.0.0:4317\nseries:\n  staleness: 10m\n');
    const result = vigil('check-config', file);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${file}: ok\n`);
    assert.equal(result.stderr, '');
  });

  test('the example config at the repository root is valid', () => {
    const result = vigil('check-config', join(root, 'vigil.example.yaml'));
    assert.equal(result.status, 0, result.stderr);
  });

  test('a bad file prints every error, one per line, and exits 2', () => {
    const file = writeConfig('bad.yaml', 'otlp:\n  grpc:\n    endpoint: nope\nprometheus:\n  endpont: 1.2.3.4:9464\nseries:\n  limit: -1\n');
    const result = vigil('check-config', file);
    assert.equal(result.status, 2);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      `${file}: otlp.grpc.endpoint: must be host:port (got "nope")\n` +
        `${file}: 'prometheus' has invalid key: endpont\n` +
        `${file}: series.limit: must be a positive integer (got -1)\n`,
    );
  });

  test('with SLOs it says what they need against the limits, and warns when that is most of the soft limit', () => {
    const slos = (n: number) =>
      'components:\n  - { id: api }\nslos:\n' +
      Array.from({ length: n }, (_, i) => `  - { id: s${i}, component: api, objective: 99.9, window: 30d, indicator: { availability: { spans: { service: s${i} } } } }\n`).join('');
    const small = writeConfig('slos.yaml', `limits:\n  memory_soft: 96MiB\n  memory_hard: 128MiB\n${slos(1000)}`);
    let result = vigil('check-config', small);
    assert.equal(result.status, 0, result.stderr);
    const need = /(\d+) SLOs and (\d+) components need about ([\d.]+) MiB before traffic and ([\d.]+) MiB with traffic on every SLO \(limits.memory_soft 96.0 MiB, limits.memory_hard 128.0 MiB\)/.exec(result.stdout);
    assert.ok(need, result.stdout);
    assert.deepEqual([need[1], need[2]], ['1000', '1']);
    // 1,000 30d SLOs: about 12 KiB each with traffic (docs/slo.md, "Memory layout"), 1 KiB before.
    assert.ok(Number(need[3]) >= 0.9 && Number(need[3]) <= 1.5, `before traffic ${need[3]} MiB`);
    assert.ok(Number(need[4]) >= 10 && Number(need[4]) <= 14, `with traffic ${need[4]} MiB`);
    assert.equal(result.stderr, '');
    const tight = writeConfig('tight.yaml', `limits:\n  memory_soft: 16MiB\n  memory_hard: 24MiB\n${slos(1000)}`);
    result = vigil('check-config', tight);
    assert.equal(result.status, 0);
    assert.match(result.stderr, /warning: with traffic on every SLO they take \d+% of limits.memory_soft; raise limits.memory_soft and limits.memory_hard/);
  });

  test('a YAML syntax error is reported with its line and column', () => {
    const file = writeConfig('syntax.yaml', 'log:\n  level: info\n  level: debug\n');
    const result = vigil('check-config', file);
    assert.equal(result.status, 2);
    assert.equal(result.stderr, `${file}: line 3, column 3: YAML syntax error: Map keys must be unique\n`);
  });

  test('a missing file exits 2 and names the path', () => {
    const file = join(dir, 'missing.yaml');
    const result = vigil('check-config', file);
    assert.equal(result.status, 2);
    assert.equal(result.stderr, `${file}: file not found: ${file}\n`);
  });

  test('without a FILE it exits 2', () => {
    const result = vigil('check-config');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^vigil: check-config needs a FILE\n\nUsage: vigil check-config FILE/);
  });
});

describe('vigil start', () => {
  test('an invalid config exits 2 with every error before starting anything', () => {
    const file = writeConfig('start-bad.yaml', 'series:\n  limit: 0\n');
    const result = vigil('start', '--config', file, '--otlp-grpc', 'nope');
    assert.equal(result.status, 2);
    assert.equal(
      result.stderr,
      `vigil: invalid configuration in ${file} (2 errors):\n` +
        '  --otlp-grpc: must be host:port (got "nope")\n' +
        '  series.limit: must be a positive integer (got 0)\n',
    );
    assert.equal(result.stdout, '');
  });
});
