// Children the harness starts exit when the harness goes away, even on SIGKILL: the harness passes
// `--exit-with-stdin` and keeps their stdin a pipe; its end means the parent is gone.

/** Calls `onOrphaned` when stdin closes, if the process was started with `--exit-with-stdin`. */
export function exitWhenParentGone(onOrphaned) {
  if (!process.argv.includes('--exit-with-stdin')) return;
  process.stdin.on('end', onOrphaned);
  process.stdin.on('error', onOrphaned);
  process.stdin.resume();
}
