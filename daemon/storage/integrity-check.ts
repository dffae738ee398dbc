// The full integrity check of vigil.db, run by Storage.startIntegrityCheck() as a child process
// after vigild is ready: `PRAGMA quick_check` on a read-only connection (WAL: it reads one snapshot
// while vigild keeps writing). A process rather than a worker thread because a check of a file of
// GBs runs for minutes inside one native call that only a process can be stopped in (shutdown).
// Prints one JSON line: {problems, cpuSeconds}, {corrupt, cpuSeconds} or {error}.
//
//   node dist/daemon/storage/integrity-check.js PATH

import Database from 'better-sqlite3';

/** At most this many problems are listed: enough to say what is damaged. */
const MAX_PROBLEMS = 20;

function run(path: string): Record<string, unknown> {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
    const rows = db.pragma(`quick_check(${MAX_PROBLEMS})`, { simple: false }) as { quick_check: string }[];
    // Each row may hold several lines under a "*** in database main ***" heading.
    const problems = rows.flatMap((r) => r.quick_check.split('\n')).filter((p) => p !== 'ok' && !p.startsWith('***'));
    return { problems };
  } catch (err) {
    const code = String((err as { code?: unknown }).code ?? '');
    const message = `${code === '' ? '' : `${code}: `}${(err as Error).message}`;
    // Damage that stops the check itself (a page that cannot be read as a b-tree page at all).
    if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return { corrupt: `integrity check: ${message}` };
    return { error: `the integrity check of ${path} could not run: ${message}` };
  } finally {
    db?.close();
  }
}

const path = process.argv[2];
const result = path === undefined ? { error: 'usage: integrity-check.js PATH' } : run(path);
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ ...result, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
