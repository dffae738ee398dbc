// The status exporter: the public status page, Statuspage v2 JSON API, WebSocket live feed,
// Atom/RSS feeds, badges and the admin API (README.md), and the StatusStore of incidents,
// maintenances and overrides it serves.

import { StatusExporter } from './server.js';
import type { StatusExporterOptions, StatusRequest, StatusResponse, StatusRoute } from './server.js';
import { StatusStore, maintenanceStatus } from './store.js';
import type {
  ComponentOverride,
  ComponentStatus,
  Incident,
  IncidentImpact,
  IncidentStatus,
  Maintenance,
  MaintenanceStatus,
  MaintenanceWindow,
  StatusChange,
  StatusListener,
  StatusStoreOptions,
} from './store.js';
import { UPTIME_BANDS, uptimeTone } from './model.js';
import { AutoIncidents, heartbeatAlerts, probeAlerts, sloAlerts } from './auto-incidents.js';
import type { AlertSource, AutoIncidentsOptions, ComponentAlert } from './auto-incidents.js';
import type { ComponentView, ShownStatus, StatusModel } from './model.js';

/** Builds the exporter; call start() to bind, shutdown() to stop. */
function createStatusExporter(options: StatusExporterOptions): StatusExporter {
  return new StatusExporter(options);
}

/** Builds automatic incidents (status.auto_incidents); start() after the status store is open. */
function createAutoIncidents(options: AutoIncidentsOptions): AutoIncidents {
  return new AutoIncidents(options);
}

export { createAutoIncidents, createStatusExporter, heartbeatAlerts, maintenanceStatus, probeAlerts, sloAlerts, AutoIncidents, StatusExporter, StatusStore, UPTIME_BANDS, uptimeTone };
export type {
  AlertSource,
  AutoIncidentsOptions,
  ComponentAlert,
  ComponentOverride,
  ComponentStatus,
  ComponentView,
  Incident,
  IncidentImpact,
  IncidentStatus,
  Maintenance,
  MaintenanceStatus,
  MaintenanceWindow,
  ShownStatus,
  StatusChange,
  StatusExporterOptions,
  StatusListener,
  StatusModel,
  StatusRequest,
  StatusResponse,
  StatusRoute,
  StatusStoreOptions,
};
