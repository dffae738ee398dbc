// Every probe failure code is stable, documented in docs/errors.md, and has its own reason label.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FAILURES, reasonOf } from './errors.js';

describe('probe failure codes', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const metrics = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
  for (const [name, f] of Object.entries(FAILURES)) {
    it(`${f.code}: documented, reason ${f.reason}`, () => {
      assert.match(f.code, /^VIGIL_PROBE_[A-Z]+$/);
      assert.equal(f.reason, name);
      assert.equal(reasonOf(f.code), f.reason);
      assert.ok(doc.includes(`| \`${f.code}\` |`), `${f.code} is not in docs/errors.md`);
      assert.ok(metrics.includes(`\`${f.reason}\``), `reason ${f.reason} is not in docs/metrics.md`);
    });
  }
  it('codes and reasons are unique; an unknown code is reason other', () => {
    const all = Object.values(FAILURES);
    assert.equal(new Set(all.map((f) => f.code)).size, all.length);
    assert.equal(new Set(all.map((f) => f.reason)).size, all.length);
    assert.equal(reasonOf('VIGIL_SOMETHING_ELSE'), 'other');
  });
});
