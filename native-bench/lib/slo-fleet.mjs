// A platform-sized SLO config and a month of stored history for it, for the slo-scale scenario.
//
// The history is what a month of traffic leaves in storage, restricted to the rows the daemon
// reads: the daily rollups of the month (what a restart loads), the hours of the last 3 days, the
// minutes of the last 3 hours, the hours of the days at the left edges of the 3d and 30d windows
// and the minutes of the hours at the left edges of the 6h, 1d, 3d and 30d windows (read once per
// day or hour while they are the edge). Rows no code path reads at start or at the edges (the
// minutes and hours in the middle of the month) are not written: 432 million minutes for 10,000
// SLOs would take the bench longer to write than to measure.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from './result.mjs';

const require = createRequire(join(repoRoot, 'package.json'));
const Database = require('better-sqlite3');

/** `components` components in groups of `groupSize`, `slos` SLOs spread evenly over them (30d, availability). */
export function fleetConfig({ components, slos, groupSize = 50, extra = '' }) {
  const lines = [];
  lines.push(extra.trimEnd());
  lines.push('components:');
  for (let c = 0; c < components; c++) lines.push(`  - { id: svc-${c}, name: Service ${c}, group: Group ${Math.floor(c / groupSize)} }`);
  lines.push('slos:');
  for (let s = 0; s < slos; s++) {
    const c = s % components;
    lines.push(`  - { id: svc-${c}-slo-${Math.floor(s / components)}, component: svc-${c}, objective: 99.9, window: 30d, indicator: { availability: { spans: { service: svc-${c}, span_name: op-${Math.floor(s / components)} } } } }`);
  }
  return `${lines.join('\n')}\n`;
}

/** The SLO ids of fleetConfig, in config order. */
export function fleetSloIds({ components, slos }) {
  return Array.from({ length: slos }, (_, s) => `svc-${s % components}-slo-${Math.floor(s / components)}`);
}

/**
 * Writes the history into `dbPath` (created by vigild's own migrations first: open and close a
 * Storage). Every SLO had 1,000 events a minute, 1 in 2,000 bad. Returns the rows written.
 */
export function writeFleetHistory(dbPath, sloIds, nowMs) {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const nowMinute = Math.floor(nowMs / 60_000);
  const nowHour = Math.floor(nowMinute / 60);
  const nowDay = Math.floor(nowMinute / 1440);
  const perMinute = { good: 999.5, total: 1000 };
  const day = db.prepare('INSERT OR REPLACE INTO slo_day (slo, day, good, total) VALUES (?, ?, ?, ?)');
  const hour = db.prepare('INSERT OR REPLACE INTO slo_hour (slo, hour, good, total) VALUES (?, ?, ?, ?)');
  const minute = db.prepare('INSERT OR REPLACE INTO slo_minute (slo, minute, good, total) VALUES (?, ?, ?, ?)');
  let rows = 0;
  // Minutes the edges read: the hours holding now − 6h, − 1d, − 3d, − 30d (and the next one).
  const edgeHours = [6 * 60, 1440, 3 * 1440, 30 * 1440].flatMap((back) => [Math.floor((nowMinute - back) / 60), Math.floor((nowMinute - back) / 60) + 1]);
  // Days whose hours the 3d and 30d edges read (and the next day).
  const edgeDays = [3 * 1440, 30 * 1440].map((back) => Math.floor((nowMinute - back) / 1440));
  db.transaction(() => {
    for (const id of sloIds) {
      for (let d = nowDay - 31; d < nowDay; d++, rows++) day.run(id, d, perMinute.good * 1440, perMinute.total * 1440);
      const today = nowMinute - nowDay * 1440;
      day.run(id, nowDay, perMinute.good * today, perMinute.total * today);
      const hours = new Set();
      for (let h = nowHour - 72; h < nowHour; h++) hours.add(h);
      for (const d of edgeDays) for (let h = d * 24; h < d * 24 + 48; h++) hours.add(h);
      for (const h of hours) {
        hour.run(id, h, perMinute.good * 60, perMinute.total * 60);
        rows++;
      }
      hour.run(id, nowHour, perMinute.good * (nowMinute - nowHour * 60), perMinute.total * (nowMinute - nowHour * 60));
      const minutes = new Set();
      for (let m = nowMinute - 180; m < nowMinute; m++) minutes.add(m);
      for (const h of edgeHours) for (let m = h * 60; m < h * 60 + 60; m++) minutes.add(m);
      for (const m of minutes) {
        minute.run(id, m, perMinute.good, perMinute.total);
        rows++;
      }
    }
  })();
  db.close();
  return rows;
}

/**
 * Every minute of `days` days from `startMs` for each SLO (what `vigil report` reads), with its
 * hours and days: 100 events a minute, one bad; every 997th minute of an SLO 60 bad (an outage
 * minute). Returns the minute rows written.
 */
export function writeMonthOfMinutes(dbPath, sloIds, startMs, days) {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const first = Math.floor(startMs / 60_000);
  const minute = db.prepare('INSERT OR REPLACE INTO slo_minute (slo, minute, good, total) VALUES (?, ?, ?, ?)');
  const hour = db.prepare('INSERT OR REPLACE INTO slo_hour (slo, hour, good, total) VALUES (?, ?, ?, ?)');
  const day = db.prepare('INSERT OR REPLACE INTO slo_day (slo, day, good, total) VALUES (?, ?, ?, ?)');
  let rows = 0;
  db.transaction(() => {
    sloIds.forEach((id, k) => {
      let hourGood = 0;
      let dayGood = 0;
      for (let m = first; m < first + days * 1440; m++) {
        const bad = (m + k) % 997 === 0 ? 60 : 1;
        minute.run(id, m, 100 - bad, 100);
        rows++;
        hourGood += 100 - bad;
        dayGood += 100 - bad;
        if ((m + 1) % 60 === 0) {
          hour.run(id, Math.floor(m / 60), hourGood, 6000);
          hourGood = 0;
        }
        if ((m + 1) % 1440 === 0) {
          day.run(id, Math.floor(m / 1440), dayGood, 144_000);
          dayGood = 0;
        }
      }
    });
  })();
  db.close();
  return rows;
}

/**
 * writeMonthOfMinutes's rows (the same traffic: 100 events a minute, one bad, every 997th minute of
 * an SLO 60 bad), generated inside SQLite: a month of 1,000 SLOs is 43 million minute rows, which
 * a row-by-row insert from JavaScript takes minutes to write. Hours and days are summed from the
 * minutes, as Storage.write keeps them. Returns the minute rows written.
 */
export function writeMonthOfMinutesNative(dbPath, sloIds, startMs, days) {
  const db = new Database(dbPath);
  // A bulk load: no journal while writing, WAL again (as vigild leaves it) once done; the indexes
  // by minute and hour (a row per SLO per minute lands all over them) are built again at the end.
  db.pragma('journal_mode = DELETE');
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('slo_minute', 'slo_hour', 'slo_day')").all();
  for (const i of indexes) db.exec(`DROP INDEX ${i.name}`);
  const first = Math.floor(startMs / 60_000);
  const end = first + days * 1440;
  const minutes = db.prepare(
    `WITH RECURSIVE m(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM m WHERE x + 1 < ?)
     INSERT OR REPLACE INTO slo_minute (slo, minute, good, total)
     SELECT ?, x, 100 - CASE WHEN (x + ?) % 997 = 0 THEN 60 ELSE 1 END, 100 FROM m`,
  );
  const hours = db.prepare('INSERT OR REPLACE INTO slo_hour (slo, hour, good, total) SELECT slo, minute / 60, sum(good), sum(total) FROM slo_minute WHERE slo = ? AND minute >= ? AND minute < ? GROUP BY minute / 60');
  const daysStmt = db.prepare('INSERT OR REPLACE INTO slo_day (slo, day, good, total) SELECT slo, hour / 24, sum(good), sum(total) FROM slo_hour WHERE slo = ? AND hour >= ? AND hour < ? GROUP BY hour / 24');
  let rows = 0;
  sloIds.forEach((id, k) => {
    db.transaction(() => {
      rows += minutes.run(first, end, id, k).changes;
      hours.run(id, first, end);
      daysStmt.run(id, first / 60, end / 60);
    })();
  });
  for (const i of indexes) db.exec(i.sql);
  db.pragma('journal_mode = WAL');
  db.close();
  return rows;
}
