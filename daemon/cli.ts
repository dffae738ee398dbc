// The `vigil` command (bin/vigil.js imports this module, which runs on import).
// Exit codes: 0 success, 1 the daemon failed to start, 2 bad usage or invalid configuration.

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, parseDuration, type CliOverrides } from './config/index.js';
import type { Config } from './config/types.js';
import { configFootprint } from './slo/footprint.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const USAGE = `Usage: vigil <command> [options]

Commands:
  start                  run the daemon (see vigil start --help)
  check-config FILE      validate a config file: prints "FILE: ok" (exit 0) or every error (exit 2)
  report --month YYYY-MM monthly uptime report (md, html, json, csv); works while vigild runs
  rules                  Prometheus rule file for the config's SLOs over the fleet (see vigil rules --help)
  help [COMMAND]         show this help, or a command's

Options:
  -h, --help             show this help
  -v, --version          print the version

Configuration reference: docs/configuration.md
`;

const START_USAGE = `Usage: vigil start [options]

Options:
  -c, --config FILE          YAML config file (without one, built-in defaults)
      --otlp-grpc HOST:PORT  OTLP/gRPC listener; overrides otlp.grpc.endpoint (default 127.0.0.1:4317)
      --otlp-http HOST:PORT  OTLP/HTTP listener; overrides otlp.http.endpoint (default 127.0.0.1:4318)
      --metrics HOST:PORT    Prometheus /metrics listener; overrides prometheus.endpoint (default 127.0.0.1:9464)
      --status HOST:PORT     status page listener; overrides status.endpoint (default 127.0.0.1:8080)
      --data-dir DIR         data directory; overrides storage.data_dir (default ./data)
  -h, --help                 show this help

Flags override the file. The whole configuration is validated before any port is bound.
`;

const CHECK_CONFIG_USAGE = `Usage: vigil check-config FILE

Validates FILE without starting anything. Prints "FILE: ok" and exits 0, or prints
every error to stderr, one per line as "FILE: key.path: problem", and exits 2.
`;

const REPORT_USAGE = `Usage: vigil report --month YYYY-MM [options]

Writes the month's uptime report: per component, uptime % (maintenance excluded, partial outages
weighted by report.partial_outage_weight), downtime minutes, incidents with durations, and each
SLO's attainment and budget consumed (docs/reports.md). Reads the database read-only, so it works
while vigild runs on the same data directory.

Options:
  -m, --month YYYY-MM        the calendar month (required); the current month is reported up to now
      --timezone ZONE        IANA zone of the month's boundaries (default slo.timezone)
  -f, --format FORMAT        md (default), html, json or csv
  -c, --config FILE          the YAML config vigil start uses (components, SLOs, data dir)
      --data-dir DIR         data directory; overrides storage.data_dir (default ./data)
  -o, --output FILE          write to FILE instead of stdout
  -h, --help                 show this help

Exit codes: 0 written, 1 no usable database, 2 bad usage or invalid configuration.
`;

const RULES_USAGE = `Usage: vigil rules [options]

Writes a Prometheus rule file for the config's SLOs, built on vigil_slo_events_total summed across
replicas: recording rules vigil:slo_sli_ratio, vigil:slo_burn_rate, vigil:slo_error_budget_remaining_ratio,
vigil:slo_objective_ratio and the alert VigilSLOBurnRate{severity="page"|"ticket"} (docs/slo.md,
"Fleet rules"). Loads unchanged into Prometheus, Mimir's ruler and Thanos Ruler. Prints the
number of groups and rules on stderr: Mimir's ruler limits the rules in a group per tenant
(ruler_max_rules_per_rule_group, default 20; docs/scale-out.md).

Options:
  -c, --config FILE          the YAML config with the SLOs (without one: no SLOs, an empty file)
  -o, --output FILE          write to FILE instead of stdout
      --interval DURATION    evaluation interval and step tile (default 1m; must divide 5m)
      --block DURATION       block tile of the long windows (default 1h; a multiple of --interval);
                             SLO windows of 7d or more sum long blocks of 6 blocks
      --status-url URL       status page linked from the alerts (default http://status.endpoint)
      --name NAME            this rule file's vigil_rules label on its internal series (default vigil);
                             rule files loaded into one Prometheus need different names
  -h, --help                 show this help

Exit codes: 0 written, 2 bad usage or invalid configuration.
`;

const COMMAND_USAGE: Record<string, string> = { start: START_USAGE, 'check-config': CHECK_CONFIG_USAGE, report: REPORT_USAGE, rules: RULES_USAGE };

/** Bad command-line usage: reported with the relevant usage text, exit 2. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await start(rest);
      case 'check-config':
        return checkConfig(rest);
      case 'report':
        return await report(rest);
      case 'rules':
        return await rules(rest);
      case 'help':
        return help(rest);
      case undefined:
        process.stderr.write(USAGE);
        return EXIT_USAGE;
      default:
        if (command.startsWith('-')) return topLevelOptions(argv);
        throw new UsageError(`unknown command: ${command}`, USAGE);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`vigil: ${error.message}\n\n${error.usage}`);
    return EXIT_USAGE;
  }
}

function topLevelOptions(argv: string[]): number {
  const { values } = parse(argv, { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } }, USAGE);
  if (values.version === true) {
    process.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  process.stdout.write(USAGE);
  return EXIT_OK;
}

function help(args: string[]): number {
  const [topic, ...extra] = args;
  if (extra.length > 0) throw new UsageError(`help takes at most one command`, USAGE);
  if (topic === undefined) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  const usage = COMMAND_USAGE[topic];
  if (usage === undefined) throw new UsageError(`unknown command: ${topic}`, USAGE);
  process.stdout.write(usage);
  return EXIT_OK;
}

async function start(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      config: { type: 'string', short: 'c' },
      'otlp-grpc': { type: 'string' },
      'otlp-http': { type: 'string' },
      metrics: { type: 'string' },
      status: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    START_USAGE,
  );
  if (values.help === true) {
    process.stdout.write(START_USAGE);
    return EXIT_OK;
  }
  if (values.config === '') throw new UsageError('--config needs a file path', START_USAGE);

  const overrides: CliOverrides = {};
  if (values['otlp-grpc'] !== undefined) overrides.otlpGrpc = values['otlp-grpc'];
  if (values['otlp-http'] !== undefined) overrides.otlpHttp = values['otlp-http'];
  if (values.metrics !== undefined) overrides.metrics = values.metrics;
  if (values.status !== undefined) overrides.status = values.status;
  if (values['data-dir'] !== undefined) overrides.dataDir = values['data-dir'];

  let config;
  try {
    config = loadConfig(values.config, overrides);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`vigil: ${error.message}\n`);
    return EXIT_USAGE;
  }

  // Imported only here so help and check-config never load gRPC, workers or storage.
  const { startDaemon } = await import('./vigild.js');
  try {
    // SIGHUP re-reads the same file with the same flags on top (docs/operations.md).
    const file = values.config;
    await startDaemon(config, { installSignalHandlers: true, reloadConfig: () => loadConfig(file, overrides) });
  } catch (error) {
    const code = typeof (error as { code?: unknown }).code === 'string' ? ` (${(error as { code: string }).code})` : '';
    process.stderr.write(`vigil: failed to start${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

function checkConfig(args: string[]): number {
  const { values, positionals } = parse(args, { help: { type: 'boolean', short: 'h' } }, CHECK_CONFIG_USAGE, true);
  if (values.help === true) {
    process.stdout.write(CHECK_CONFIG_USAGE);
    return EXIT_OK;
  }
  const [file, ...extra] = positionals;
  if (file === undefined || file === '') throw new UsageError('check-config needs a FILE', CHECK_CONFIG_USAGE);
  if (extra.length > 0) throw new UsageError(`check-config takes one FILE (got ${positionals.length})`, CHECK_CONFIG_USAGE);
  let config: Config;
  try {
    config = loadConfig(file, {});
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(error.errors.map((e) => `${file}: ${e}\n`).join(''));
    return EXIT_USAGE;
  }
  process.stdout.write(`${file}: ok\n`);
  // What the SLOs and components will need, against the limits (docs/configuration.md, limits).
  const need = configFootprint(config);
  if (need.slos + need.components > 0) {
    const { memorySoftBytes: soft, memoryHardBytes: hard } = config.limits;
    process.stdout.write(
      `${file}: ${need.slos} SLOs and ${need.components} components need about ${mib(need.idleBytes)} before traffic and ${mib(need.busyBytes)} with traffic on every SLO ` +
        `(limits.memory_soft ${mib(soft)}, limits.memory_hard ${mib(hard)})\n`,
    );
    if (need.busyBytes > soft / 2) {
      process.stderr.write(`${file}: warning: with traffic on every SLO they take ${Math.round((need.busyBytes / soft) * 100)}% of limits.memory_soft; raise limits.memory_soft and limits.memory_hard (or leave both auto)\n`);
    }
  }
  return EXIT_OK;
}

/** Bytes as MiB with one decimal. */
function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

async function report(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      month: { type: 'string', short: 'm' },
      timezone: { type: 'string' },
      format: { type: 'string', short: 'f' },
      config: { type: 'string', short: 'c' },
      'data-dir': { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    REPORT_USAGE,
  );
  if (values.help === true) {
    process.stdout.write(REPORT_USAGE);
    return EXIT_OK;
  }
  if (values.month === undefined) throw new UsageError('report needs --month YYYY-MM', REPORT_USAGE);
  const format = values.format ?? 'md';
  if (!['md', 'html', 'json', 'csv'].includes(format)) throw new UsageError(`--format: must be md, html, json or csv (got ${format})`, REPORT_USAGE);
  let config;
  try {
    config = loadConfig(values.config, values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`vigil: ${error.message}\n`);
    return EXIT_USAGE;
  }
  // Imported only here: the report loads SQLite, nothing else of the daemon.
  const { createReporter, ReportDataError, ReportRequestError } = await import('../exporters/report/index.js');
  let body: string;
  try {
    const options = values.timezone === undefined ? {} : { timezone: values.timezone };
    body = createReporter(config).render(values.month, format as 'md', options).body;
  } catch (error) {
    if (error instanceof ReportRequestError) throw new UsageError(error.message, REPORT_USAGE);
    if (error instanceof ReportDataError) {
      process.stderr.write(`vigil: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    throw error;
  }
  if (values.output === undefined || values.output === '-') process.stdout.write(body);
  else writeFileSync(values.output, body);
  return EXIT_OK;
}

async function rules(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      config: { type: 'string', short: 'c' },
      output: { type: 'string', short: 'o' },
      interval: { type: 'string' },
      block: { type: 'string' },
      'status-url': { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    RULES_USAGE,
  );
  if (values.help === true) {
    process.stdout.write(RULES_USAGE);
    return EXIT_OK;
  }
  const seconds = (flag: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const ms = parseDuration(text);
    if (ms === undefined || ms < 1000 || ms % 1000 !== 0) throw new UsageError(`--${flag}: must be a duration of whole seconds such as 1m or 30s (got ${text})`, RULES_USAGE);
    return ms / 1000;
  };
  const intervalSeconds = seconds('interval', values.interval);
  const blockSeconds = seconds('block', values.block);
  const statusUrl = values['status-url'];
  if (statusUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(statusUrl)) throw new UsageError(`--status-url: must be an http(s) URL (got ${statusUrl})`, RULES_USAGE);
  let config;
  try {
    config = loadConfig(values.config, {});
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`vigil: ${error.message}\n`);
    return EXIT_USAGE;
  }
  const { renderRules, buildRules, RuleOptionsError } = await import('./slo/rules.js');
  const options = {
    ...(intervalSeconds === undefined ? {} : { intervalSeconds }),
    ...(blockSeconds === undefined ? {} : { blockSeconds }),
    ...(statusUrl === undefined ? {} : { statusUrl }),
    ...(values.name === undefined ? {} : { name: values.name }),
  };
  let body: string;
  try {
    body = renderRules(config, options);
  } catch (error) {
    if (error instanceof RuleOptionsError) throw new UsageError(error.message, RULES_USAGE);
    throw error;
  }
  if (values.output === undefined || values.output === '-') process.stdout.write(body);
  else writeFileSync(values.output, body);
  // Mimir's ruler refuses a group with more rules than the tenant's ruler_max_rules_per_rule_group
  // (default 20) when the file is loaded, not when it is written: say the number it needs here.
  const groups = buildRules(config, options).groups;
  if (groups.length > 0) {
    const largest = groups.reduce((a, b) => (b.rules.length > a.rules.length ? b : a));
    const total = groups.reduce((n, g) => n + g.rules.length, 0);
    process.stderr.write(
      `vigil rules: ${groups.length} groups, ${total} rules; the largest, ${largest.name}, has ${largest.rules.length} ` +
        `(Mimir's ruler needs ruler_max_rules_per_rule_group of 0 or at least ${largest.rules.length} for the tenant; default 20)\n`,
    );
  }
  return EXIT_OK;
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** util.parseArgs in strict mode, with its errors turned into short usage errors. */
function parse<Options extends OptionSpec>(args: string[], options: Options, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /'([^']+)'/.exec(message)?.[1] ?? message;
      throw new UsageError(`unknown option: ${option}`, usage);
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const argument = /'([^']+)'/.exec(message)?.[1] ?? message;
      throw new UsageError(`unexpected argument: ${argument}`, usage);
    }
    if (code?.startsWith('ERR_PARSE_ARGS_') === true) throw new UsageError(message, usage);
    throw error;
  }
}

/** The version in package.json (two levels up from dist/daemon/cli.js). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

process.exitCode = await main(process.argv.slice(2));
