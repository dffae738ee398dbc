// The file piscina loads in each decode worker: CommonJS on purpose.
//
// piscina loads a worker file with `require()` first. On Node 20.19+ `require()` of an ES module
// goes through require(esm), whose module-graph check (`v8::Module::IsGraphAsync`) aborted the
// whole daemon once in our test runs (a V8 fatal error, not an exception). A CommonJS file is
// required the classic way, and it reaches the ES-module worker (worker.ts) through `import()`,
// the ordinary ESM loader, which is never asked that question.

// Started as soon as the worker boots, so the first task does not wait for the whole load.
const loading = import('./worker.js').then((m) => m.default);

type Task = Parameters<Awaited<typeof loading>>[0];

module.exports = async function decode(task: Task): Promise<ReturnType<Awaited<typeof loading>>> {
  return (await loading)(task);
};
