#!/usr/bin/env node
// Guards a child the harness cannot change (the daemon): when the harness dies, even by SIGKILL,
// this process's stdin pipe closes and it stops <pid> (SIGTERM, then SIGKILL after 5 s).
//   node lib/watchdog.mjs <pid>
const pid = Number(process.argv[2]);
const alive = () => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const stop = () => {
  if (!alive()) process.exit(0);
  process.kill(pid, 'SIGTERM');
  const poll = setInterval(() => {
    if (!alive()) process.exit(0);
  }, 100);
  setTimeout(() => {
    clearInterval(poll);
    if (alive()) process.kill(pid, 'SIGKILL');
    process.exit(0);
  }, 5000);
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
// The harness SIGTERMs children on an orderly stop; the daemon has its own SIGTERM then.
process.on('SIGTERM', () => process.exit(0));
