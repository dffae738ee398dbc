#!/usr/bin/env node
// Storage.open's check against the file's size (issue 13, slo-start): a data dir whose SLOs have
// every minute stored, grown day by day; after each step, the time Storage.open takes (its check:
// header, schema, small tables, the ends of the history b-trees) and the time of the whole-file
// `PRAGMA quick_check` that open ran before (now run after ready, in a child process). Both on the
// same file, same run, page cache warm (just written), so the ratio is the point, not the ms (the open: best of 3).
//
//   node micro/storage-open.mjs [--slos 1000] [--days 1,3,10]
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../lib/result.mjs';

const { values: args } = parseArgs({ options: { slos: { type: 'string', default: '1000' }, days: { type: 'string', default: '1,3,10' } } });
const slos = Number(args.slos);
const steps = args.days.split(',').map(Number);
const require = createRequire(join(repoRoot, 'package.json'));
const Database = require('better-sqlite3');
const { Storage } = await import(join(repoRoot, 'dist/daemon/storage/index.js'));

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-storage-open-'));
const file = join(dir, 'vigil.db');
const ids = Array.from({ length: slos }, (_, i) => `svc-${i % 100}-slo-${Math.floor(i / 100)}`);
const rows = [];
try {
  Storage.open({ dataDir: dir }).close();
  const nowMinute = Math.floor(Date.now() / 60_000);
  const firstMinute = nowMinute - steps[steps.length - 1] * 1440;
  let written = 0;
  for (const days of steps) {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const insert = db.prepare('INSERT OR REPLACE INTO slo_minute (slo, minute, good, total) VALUES (?, ?, ?, ?)');
    // Minute after minute, every SLO, as the flushes write them.
    const until = firstMinute + days * 1440;
    for (let m0 = firstMinute + written; m0 < until; m0 += 60) {
      db.transaction(() => {
        for (let m = m0; m < Math.min(m0 + 60, until); m++) for (const id of ids) insert.run(id, m, 999, 1000);
      })();
    }
    written = days * 1440;
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const bytes = statSync(file).size;
    // The best of three opens (the machine is shared; the check itself does not vary).
    let openMs = Infinity;
    let t = 0;
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      Storage.open({ dataDir: dir }).close();
      openMs = Math.min(openMs, performance.now() - t);
    }
    const check = new Database(file, { readonly: true });
    t = performance.now();
    const ok = check.pragma('quick_check', { simple: true });
    const quickCheckMs = performance.now() - t;
    check.close();
    const row = { days, minuteRows: days * 1440 * slos, mib: Math.round(bytes / 1024 / 1024), openMs: Math.round(openMs * 10) / 10, quickCheckMs: Math.round(quickCheckMs), ok };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ slos, rows })}\n`);
