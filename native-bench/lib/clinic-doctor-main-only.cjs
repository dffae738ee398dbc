// Preloaded into the daemon under `clinic doctor` (profile.mjs): keeps clinic's sampler out of the
// decode worker threads. Clinic injects its sampler with NODE_OPTIONS=-r sampler.js, which every
// worker thread also runs; each copy then writes the same processstat file and the interleaved
// records fail to decode ("Decoded message is not valid"). Workers created after this preload get
// the environment without NODE_OPTIONS, so only the main thread, the one doctor reports on, samples.
'use strict';
const workerThreads = require('node:worker_threads');
const { syncBuiltinESMExports } = require('node:module');

const { Worker } = workerThreads;
class WorkerWithoutClinic extends Worker {
  constructor(filename, options = {}) {
    const env = { ...(options.env && typeof options.env === 'object' ? options.env : process.env) };
    delete env.NODE_OPTIONS;
    super(filename, { ...options, env });
  }
}
workerThreads.Worker = WorkerWithoutClinic;
// ESM `import { Worker } from 'node:worker_threads'` sees the replacement too.
syncBuiltinESMExports();
