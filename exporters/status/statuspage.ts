// The Statuspage v2 public API shapes (field names, nesting, enums) built from the model, so status
// aggregators that read Atlassian Statuspage pages read Vigil's unchanged. The fields are described
// in statuspage-v2.schema.json; a test checks every response against it.

import { createHash } from 'node:crypto';
import type { ComponentView, StatusModel } from './model.js';
import type { ComponentStatus, EventUpdate, Incident, Maintenance, MaintenanceStatus } from './store.js';

/** Where the page lives and who it is. */
export interface PageInfo {
  id: string;
  name: string;
  url: string;
  timeZone: string;
  /** When components were first published (Statuspage's component created_at). */
  createdMs: number;
}

export interface V2Page {
  id: string;
  name: string;
  url: string;
  time_zone: string;
  updated_at: string;
}

export interface V2Component {
  id: string;
  name: string;
  status: ComponentStatus;
  created_at: string;
  updated_at: string;
  position: number;
  description: string | null;
  showcase: boolean;
  start_date: string | null;
  group_id: string | null;
  page_id: string;
  group: boolean;
  only_show_if_degraded: boolean;
  components?: string[];
}

export interface V2AffectedComponent {
  code: string;
  name: string;
  old_status: ComponentStatus;
  new_status: ComponentStatus;
}

export interface V2IncidentUpdate {
  id: string;
  status: string;
  body: string;
  incident_id: string;
  created_at: string;
  updated_at: string;
  display_at: string;
  affected_components: V2AffectedComponent[] | null;
  deliver_notifications: boolean;
  custom_tweet: null;
  tweet_id: null;
}

export interface V2Incident {
  id: string;
  name: string;
  status: string;
  created_at: string;
  updated_at: string;
  monitoring_at: string | null;
  resolved_at: string | null;
  impact: string;
  shortlink: string;
  started_at: string;
  page_id: string;
  incident_updates: V2IncidentUpdate[];
  components: V2Component[];
  scheduled_for?: string;
  scheduled_until?: string;
}

/** The Statuspage component status of a shown status: Statuspage has no "no data", so it is operational. */
export function v2Status(status: ComponentView['status']): ComponentStatus {
  return status === 'no_data' ? 'operational' : status;
}

/** A stable id for a component group (groups are names in the config). */
export function groupId(group: string): string {
  return `group-${createHash('sha256').update(group).digest('hex').slice(0, 10)}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Renders every v2 document of one model; `updatedMs` is the model's change time. */
export class StatuspageV2 {
  readonly #model: StatusModel;
  readonly #page: V2Page;
  readonly #info: PageInfo;
  readonly #components: V2Component[];
  readonly #byId: Map<string, V2Component>;

  constructor(model: StatusModel, info: PageInfo, updatedMs: number) {
    this.#model = model;
    this.#info = info;
    this.#page = { id: info.id, name: info.name, url: info.url, time_zone: info.timeZone, updated_at: iso(updatedMs) };
    this.#components = this.#renderComponents();
    this.#byId = new Map(this.#components.map((c) => [c.id, c]));
  }

  #renderComponents(): V2Component[] {
    const out: V2Component[] = [];
    const groups = new Map<string, V2Component>();
    let position = 0;
    for (const c of this.#model.components) {
      let gid: string | null = null;
      if (c.group !== null) {
        gid = groupId(c.group);
        let g = groups.get(gid);
        if (g === undefined) {
          g = this.#component(gid, c.group, 'operational', ++position, null, null, c.sinceMs);
          g.group = true;
          g.components = [];
          groups.set(gid, g);
          out.push(g);
        }
        g.components!.push(c.id);
        // A group shows its worst member.
        if (rank(v2Status(c.status)) > rank(g.status)) g.status = v2Status(c.status);
        if (iso(c.sinceMs) > g.updated_at) g.updated_at = iso(c.sinceMs);
      }
      out.push(this.#component(c.id, c.name, v2Status(c.status), ++position, c.description, gid, c.sinceMs));
    }
    return out;
  }

  #component(id: string, name: string, status: ComponentStatus, position: number, description: string | null, gid: string | null, updatedMs: number): V2Component {
    return {
      id,
      name,
      status,
      created_at: iso(this.#info.createdMs),
      updated_at: iso(Math.max(updatedMs, this.#info.createdMs)),
      position,
      description,
      showcase: gid === null,
      start_date: null,
      group_id: gid,
      page_id: this.#info.id,
      group: false,
      only_show_if_degraded: false,
    };
  }

  #update(u: EventUpdate): V2IncidentUpdate {
    return {
      id: u.id,
      status: u.status,
      body: u.body,
      incident_id: u.eventId,
      created_at: iso(u.createdMs),
      updated_at: iso(u.createdMs),
      display_at: iso(u.createdMs),
      affected_components:
        u.affected.length === 0 ? null : u.affected.map((a) => ({ code: a.code, name: this.#byId.get(a.code)?.name ?? a.code, old_status: a.old_status, new_status: a.new_status })),
      deliver_notifications: true,
      custom_tweet: null,
      tweet_id: null,
    };
  }

  /** One incident. */
  incident(i: Incident): V2Incident {
    return {
      id: i.id,
      name: i.name,
      status: i.status,
      created_at: iso(i.createdMs),
      updated_at: iso(i.updatedMs),
      monitoring_at: i.monitoringMs === null ? null : iso(i.monitoringMs),
      resolved_at: i.resolvedMs === null ? null : iso(i.resolvedMs),
      impact: i.impact,
      shortlink: `${this.#info.url}/#incident-${i.id}`,
      started_at: iso(i.createdMs),
      page_id: this.#info.id,
      incident_updates: i.updates.map((u) => this.#update(u)),
      components: Object.keys(i.components).flatMap((id) => (this.#byId.has(id) ? [this.#byId.get(id)!] : [])),
    };
  }

  /** One scheduled maintenance (impact `maintenance`, as Statuspage reports them). */
  maintenance(m: Maintenance, status: MaintenanceStatus): V2Incident {
    const completed = status === 'completed' ? (m.completedMs ?? m.scheduledUntilMs) : null;
    return {
      id: m.id,
      name: m.name,
      status,
      created_at: iso(m.createdMs),
      updated_at: iso(m.updatedMs),
      monitoring_at: null,
      resolved_at: completed === null ? null : iso(completed),
      impact: 'maintenance',
      shortlink: `${this.#info.url}/#maintenance-${m.id}`,
      started_at: iso(m.startedMs ?? m.scheduledForMs),
      page_id: this.#info.id,
      incident_updates: m.updates.map((u) => this.#update(u)),
      components: m.components.flatMap((id) => (this.#byId.has(id) ? [this.#byId.get(id)!] : [])),
      scheduled_for: iso(m.scheduledForMs),
      scheduled_until: iso(m.scheduledUntilMs),
    };
  }

  status(): { page: V2Page; status: { indicator: string; description: string } } {
    return { page: this.#page, status: { indicator: this.#model.indicator, description: this.#model.description } };
  }

  components(): { page: V2Page; components: V2Component[] } {
    return { page: this.#page, components: this.#components };
  }

  /** The 50 most recent incidents, as Statuspage lists them. */
  incidents(): { page: V2Page; incidents: V2Incident[] } {
    return { page: this.#page, incidents: this.#model.incidents.slice(0, 50).map((i) => this.incident(i)) };
  }

  unresolved(): { page: V2Page; incidents: V2Incident[] } {
    return { page: this.#page, incidents: this.#model.incidents.filter((i) => i.status !== 'resolved').map((i) => this.incident(i)) };
  }

  #maintenances(keep: (s: MaintenanceStatus) => boolean, limit = Infinity): V2Incident[] {
    return this.#model.maintenances
      .filter((m) => keep(m.status))
      .slice(0, limit)
      .map((m) => this.maintenance(m.maintenance, m.status));
  }

  scheduledMaintenances(): { page: V2Page; scheduled_maintenances: V2Incident[] } {
    return { page: this.#page, scheduled_maintenances: this.#maintenances(() => true, 50) };
  }

  upcoming(): { page: V2Page; scheduled_maintenances: V2Incident[] } {
    return { page: this.#page, scheduled_maintenances: this.#maintenances((s) => s === 'scheduled') };
  }

  active(): { page: V2Page; scheduled_maintenances: V2Incident[] } {
    return { page: this.#page, scheduled_maintenances: this.#maintenances((s) => s === 'in_progress' || s === 'verifying') };
  }

  /** summary.json: page, components, unresolved incidents, upcoming and active maintenances, status. */
  summary(): { page: V2Page; components: V2Component[]; incidents: V2Incident[]; scheduled_maintenances: V2Incident[]; status: { indicator: string; description: string } } {
    return {
      page: this.#page,
      components: this.#components,
      incidents: this.unresolved().incidents,
      scheduled_maintenances: this.#maintenances((s) => s !== 'completed'),
      status: this.status().status,
    };
  }
}

function rank(s: ComponentStatus): number {
  return { operational: 0, under_maintenance: 1, degraded_performance: 2, partial_outage: 3, major_outage: 4 }[s];
}
