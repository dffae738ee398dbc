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

describe('docs/configuration.md', () => {
  it('documents every key of vigil.example.yaml by its full path', () => {
    const example = readFileSync(new URL('../../vigil.example.yaml', import.meta.url), 'utf8');
    const tree: unknown = parse(example.replace(/^# ( *[a-z_]+:.*)$/gm, '$1'));
    const paths: string[] = [];
    const walk = (node: unknown, prefix: string): void => {
      if (node === null || typeof node !== 'object' || Array.isArray(node)) {
        paths.push(prefix);
        return;
      }
      for (const [key, value] of Object.entries(node)) walk(value, prefix === '' ? key : `${prefix}.${key}`);
    };
    walk(tree, '');
    assert.ok(paths.length > 20, `only ${paths.length} keys found in the example`);
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    assert.deepEqual(paths.filter((path) => !doc.includes(path)), [], 'keys missing from docs/configuration.md');
  });
});
