// The daemon's own VigilSLOBurnRate alerts to Alertmanager's v2 API (README.md): the same alert
// name and labels as the rules of `vigil rules`, resent while firing, resolved with endsAt.

import type { Logger } from 'pino';
import type { AlertingSettings } from '../../daemon/config/types.js';
import type { ComponentReport } from '../../daemon/slo/index.js';
import { ALERT_NAME, AlertSender } from './sender.js';
import type { AlertSenderOptions, AlertmanagerTarget } from './sender.js';

/** The validated `alerting` section. */
export type Config = AlertingSettings;

/** Builds the sender; start() begins reading the SLO report (nothing happens without Alertmanagers). */
function createAlertmanagerExporter(options: { alerting: AlertingSettings; report: () => ComponentReport[]; statusUrl: () => string; logger?: Logger; now?: () => number }): AlertSender {
  const { alerting } = options;
  return new AlertSender({
    alertmanagers: alerting.alertmanagers,
    resendIntervalMs: alerting.resendIntervalMs,
    evaluateIntervalMs: alerting.evaluateIntervalMs,
    report: options.report,
    statusUrl: alerting.statusUrl === null ? options.statusUrl : () => alerting.statusUrl!,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}

export { ALERT_NAME, AlertSender, createAlertmanagerExporter };
export type { AlertSenderOptions, AlertmanagerTarget };
