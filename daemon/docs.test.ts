// docs/metrics.md is the contract for Vigil's own metrics: every vigil_* family the daemon
// exports is documented, and every documented one is exported.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { scrape, startTestDaemon } from '../test-support/daemon.js';
import type { TestDaemon } from '../test-support/daemon.js';

/** prom-client's default metrics are documented by prefix, not one by one. */
const BY_PREFIX = /^vigil_(process|nodejs)_/;

describe('docs/metrics.md', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon();
  });
  after(async () => {
    await daemon.stop();
  });

  it('lists exactly the vigil_* families /metrics exports', async () => {
    const exported = new Set(
      [...(await scrape(daemon.metricsBase)).matchAll(/^# TYPE (vigil_\w+) /gm)].map((m) => m[1]!).filter((n) => !BY_PREFIX.test(n)),
    );
    const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| `(vigil_\w+)` \|/gm)].map((m) => m[1]!));
    assert.deepEqual([...exported].filter((n) => !documented.has(n)).sort(), [], 'exported but not documented');
    assert.deepEqual([...documented].filter((n) => !exported.has(n)).sort(), [], 'documented but not exported');
    assert.match(doc, /`vigil_process_\*`/);
  });
});

/** Every key path of vigil.example.yaml (its commented-out `# key: value` lines), leaves only. */
function exampleKeys(): string[] {
  const example = readFileSync(new URL('../../vigil.example.yaml', import.meta.url), 'utf8');
  const tree: unknown = parse(example.replace(/^# ( *[a-z][a-z0-9_]*:.*)$/gm, '$1'));
  const paths: string[] = [];
  const walk = (node: unknown, prefix: string): void => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) {
      paths.push(prefix);
      return;
    }
    for (const [key, value] of Object.entries(node)) walk(value, prefix === '' ? key : `${prefix}.${key}`);
  };
  walk(tree, '');
  return paths;
}

/**
 * Key paths of the example's `##` lines too (settings absent by default, shown as an example to
 * uncomment), nested by indentation under the `#` sections; list items end a path.
 */
function exampleMentionedKeys(): string[] {
  const example = readFileSync(new URL('../../vigil.example.yaml', import.meta.url), 'utf8');
  const stack: { indent: number; key: string }[] = [];
  const paths: string[] = [];
  for (const line of example.split('\n')) {
    const m = /^(?:# |##)( *)([a-z][a-z0-9_]*):/.exec(line);
    if (m === null) continue;
    const indent = m[1]!.length;
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    stack.push({ indent, key: m[2]! });
    paths.push(stack.map((e) => e.key).join('.'));
  }
  return paths;
}

/** Every key docs/configuration.md documents: table rows whose first cell is a dotted key path. */
function documentedKeys(): string[] {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  return [...doc.matchAll(/^\| `([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)` \|/gm)].map((m) => m[1]!);
}

/** Where a missing key goes in the example: `# section:` then `#   key: default`, nested by two spaces. */
function exampleHint(path: string): string {
  const parts = path.split('.');
  const lines = parts.map((part, depth) => `#${' '.repeat(1 + depth * 2)}${part}:${depth === parts.length - 1 ? ' <default>   # meaning' : ''}`);
  return lines.join(' / ');
}

describe('docs/configuration.md and vigil.example.yaml list the same keys', () => {
  const example = exampleKeys();
  const documented = documentedKeys();

  it('finds keys in both', () => {
    assert.ok(example.length > 20, `only ${example.length} keys found in vigil.example.yaml`);
    assert.ok(documented.length > 20, `only ${documented.length} keys found in docs/configuration.md`);
  });

  it('documents every key of vigil.example.yaml by its full path', () => {
    const missing = example.filter((path) => !documented.includes(path));
    assert.deepEqual(
      missing.map((path) => `vigil.example.yaml has ${path}, docs/configuration.md has no row | \`${path}\` | for it`),
      [],
      'keys missing from docs/configuration.md',
    );
  });

  it('lists every documented key in vigil.example.yaml, with its default', () => {
    // Regression: limits.*, report.partial_outage_weight and status.webhooks were documented but not in the example.
    // A key absent by default may be shown only in a `##` example block.
    const mentioned = new Set([...example, ...exampleMentionedKeys()]);
    const missing = documented.filter((path) => !mentioned.has(path));
    assert.deepEqual(
      missing.map((path) => `docs/configuration.md documents ${path}, vigil.example.yaml lacks it: add ${exampleHint(path)}`),
      [],
      'keys missing from vigil.example.yaml',
    );
  });
});
