// Heartbeats: jobs that must run on schedule ping /ping/<key> on the status listener; each expected
// run is one SLI event for the SLOs that name the heartbeat (README.md).

import { Heartbeats } from './heartbeats.js';
import type { HeartbeatAlert, HeartbeatsOptions, PingAnswer, SliSink } from './heartbeats.js';
import { HEARTBEAT_STATES, RUN_OUTCOMES } from './monitor.js';
import type { HeartbeatState, RunOutcome } from './monitor.js';
import type { HeartbeatOutage } from './store.js';
import { readOutages } from './store.js';

/** Builds the collector; start() restores its state from storage.data_dir, shutdown() persists it. */
function createHeartbeats(options: HeartbeatsOptions): Heartbeats {
  return new Heartbeats(options);
}

export { createHeartbeats, Heartbeats, HEARTBEAT_STATES, RUN_OUTCOMES, readOutages };
export type { HeartbeatAlert, HeartbeatOutage, HeartbeatsOptions, HeartbeatState, PingAnswer, RunOutcome, SliSink };
