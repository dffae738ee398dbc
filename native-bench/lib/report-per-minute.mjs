// The monthly report as it was computed before classifyStored: every minute of every SLO read and
// classified (createReporter's perMinute option, the reference its tests hold the new path to).
// The peer of `vigil report` in bench:slo-scale, on the same data in the same run.
//   node lib/report-per-minute.mjs CONFIG DATA_DIR YYYY-MM OUTPUT.json
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './result.mjs';

const [configPath, dataDir, month, output] = process.argv.slice(2);
const { loadConfig } = await import(join(repoRoot, 'dist/daemon/config/index.js'));
const { createReporter } = await import(join(repoRoot, 'dist/exporters/report/index.js'));
const config = loadConfig(configPath, { dataDir });
writeFileSync(output, createReporter(config, { perMinute: true }).render(month, 'json').body);
