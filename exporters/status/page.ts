// The server-rendered status page. It is complete without JavaScript; a small inline script
// subscribes to the WebSocket feed and swaps in re-rendered sections (escaped here, on the server).

import { createHash } from 'node:crypto';
import { escapeHtml as h } from './escape.js';
import { HISTORY_DAYS, UPTIME_BANDS, uptimeTone } from './model.js';
import type { ComponentView, ShownStatus, StatusModel, UptimeTone } from './model.js';
import type { EventUpdate, Incident, Maintenance, MaintenanceStatus } from './store.js';

/** Ids of the live sections; the feed message carries new HTML for each. */
export const SECTION_IDS = ['banner', 'components', 'slos', 'incidents', 'maintenance', 'history', 'updated'] as const;
export type SectionId = (typeof SECTION_IDS)[number];

const STATUS_TEXT: Record<ShownStatus, string> = {
  operational: 'Operational',
  degraded_performance: 'Degraded performance',
  partial_outage: 'Partial outage',
  major_outage: 'Major outage',
  under_maintenance: 'Under maintenance',
  no_data: 'No data',
};

// A symbol beside each status so colour is never the only signal.
const STATUS_MARK: Record<ShownStatus, string> = {
  operational: '✓',
  degraded_performance: '!',
  partial_outage: '▲',
  major_outage: '✕',
  under_maintenance: '⚙',
  no_data: '–',
};

const INDICATOR_CLASS: Record<StatusModel['indicator'], string> = { none: 'ok', minor: 'minor', major: 'major', critical: 'critical' };

const PAST_INCIDENTS = 20;

const fmtTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
const pct = (ratio: number | null, digits = 2): string => (ratio === null ? 'no data' : `${(ratio * 100).toFixed(digits)}%`);

function statusBadge(status: ShownStatus): string {
  return `<span class="st st-${status}"><span aria-hidden="true">${STATUS_MARK[status]}</span> ${STATUS_TEXT[status]}</span>`;
}

/** Every live section's inner HTML. */
export function renderSections(model: StatusModel, updatedMs: number): Record<SectionId, string> {
  return {
    banner: renderBanner(model),
    components: renderComponents(model),
    slos: renderSlos(model),
    incidents: renderActiveIncidents(model),
    maintenance: renderMaintenance(model),
    history: renderHistory(model),
    updated: `Last updated <time datetime="${new Date(updatedMs).toISOString()}">${fmtTime(updatedMs)}</time>.`,
  };
}

function renderBanner(model: StatusModel): string {
  return `<p class="banner b-${INDICATOR_CLASS[model.indicator]}">${h(model.description)}</p>`;
}

// Worst first, for a collapsed group's summary.
const STATUS_ORDER: readonly ShownStatus[] = ['major_outage', 'partial_outage', 'degraded_performance', 'under_maintenance', 'operational', 'no_data'];

function renderComponents(model: StatusModel): string {
  if (model.components.length === 0) return '<p>No components are configured.</p>';
  const groups = new Map<string | null, ComponentView[]>();
  for (const c of model.components) {
    const members = groups.get(c.group);
    if (members === undefined) groups.set(c.group, [c]);
    else members.push(c);
  }
  let out = '';
  for (const [group, members] of groups) {
    const headingId = `grp-${members[0]!.id}`;
    const list = `<ul class="components">${members.map(renderComponent).join('')}</ul>`;
    const heading = `<h3 id="${h(headingId)}">${h(group ?? 'Services')}</h3>`;
    if (model.collapseGroupsOver > 0 && members.length > model.collapseGroupsOver) {
      // Collapsed: the summary says the group's worst status and how many members are in each.
      const counts = new Map<ShownStatus, number>();
      for (const c of members) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
      const worst = STATUS_ORDER.find((st) => st !== 'no_data' && counts.has(st)) ?? 'no_data';
      const tally = STATUS_ORDER.filter((st) => counts.has(st)).map((st) => `${counts.get(st)} ${STATUS_TEXT[st].toLowerCase()}`).join(', ');
      out += `<section class="group" aria-labelledby="${h(headingId)}"><details><summary>${heading}${statusBadge(worst)} <span class="tally">${members.length} components: ${h(tally)}</span></summary>${list}</details></section>`;
    } else {
      out += `<section class="group" aria-labelledby="${h(headingId)}">${heading}${list}</section>`;
    }
  }
  return out;
}

/**
 * A component's 90 daily bars in a few bytes a day: the container carries the most common colour,
 * a day of that colour without incidents is a bare `<i></i>`, the others carry their colour and
 * a title. The text alternative is the container's label: days per colour band, then the days
 * outside the most common band or with incidents (at most 10 listed).
 */
function renderBars(c: ComponentView): string {
  const counts = new Map<UptimeTone, number>();
  for (const d of c.days) {
    const tone = uptimeTone(d.uptime);
    counts.set(tone, (counts.get(tone) ?? 0) + 1);
  }
  let common: UptimeTone = 'none';
  for (const [tone, n] of counts) if (n > (counts.get(common) ?? 0)) common = tone;
  let bars = '';
  const notable: string[] = [];
  for (const d of c.days) {
    const tone = uptimeTone(d.uptime);
    if (tone === common && d.incidents.length === 0) {
      bars += '<i></i>';
      continue;
    }
    const label = `${d.date}: ${d.uptime === null ? 'no data' : `${pct(d.uptime, 3)} uptime`}${d.incidents.length === 0 ? '' : `, incidents: ${d.incidents.map((i) => i.name).join('; ')}`}`;
    notable.push(label);
    bars += `<i class="${TONE_CLASS[tone]}${d.incidents.length > 0 ? ' x' : ''}" title="${h(label)}"></i>`;
  }
  const bands = [...TONE_TEXT].filter(([tone]) => counts.has(tone)).map(([tone, text]) => `${counts.get(tone)} ${counts.get(tone) === 1 ? 'day' : 'days'} ${text}`);
  const rest = notable.length === 0 ? '' : `; ${notable.slice(0, 10).join('; ')}${notable.length > 10 ? `; and ${notable.length - 10} more` : ''}`;
  const label = `${c.name}: daily uptime, last ${HISTORY_DAYS} days, oldest first: ${bands.join(', ')}${rest}`;
  return `<p class="bars t-${TONE_CLASS[common]}" role="img" aria-label="${h(label)}" title="${h(label)}">${bars}</p>`;
}

const TONE_CLASS: Record<UptimeTone, string> = { good: 'g', fair: 'f', poor: 'p', bad: 'b', none: 'n' };
const TONE_TEXT: ReadonlyMap<UptimeTone, string> = new Map<UptimeTone, string>([
  ...UPTIME_BANDS.map((b): [UptimeTone, string] => [b.tone, b.label]),
  ['none', 'no data'],
]);

function renderComponent(c: ComponentView): string {
  return (
    `<li class="component" id="component-${h(c.id)}" data-status="${c.status}">` +
    `<div class="crow"><span class="cname">${h(c.name)}</span>${statusBadge(c.status)}</div>` +
    (c.description === null ? '' : `<p class="desc">${h(c.description)}</p>`) +
    renderBars(c) +
    `<div class="axis"><span>${HISTORY_DAYS} days ago</span><span>${c.uptime === null ? 'no data' : `${pct(c.uptime, 3)} uptime`}</span><span>Today</span></div>` +
    '</li>'
  );
}

function renderSlos(model: StatusModel): string {
  if (model.slos.length === 0) return '<p>No service level objectives are configured.</p>';
  const names = new Map(model.components.map((c) => [c.id, c.name]));
  const rows = model.slos
    .map(
      (s) =>
        `<tr><th scope="row">${h(s.name)}</th><td>${h(names.get(s.component) ?? s.component)}</td><td>${h(s.kind)}</td>` +
        `<td>${pct(s.objective, 3)} over ${h(s.window)}</td><td>${pct(s.sli, 3)}</td>` +
        `<td>${s.budgetRemaining === null ? 'no data' : `${(s.budgetRemaining * 100).toFixed(1)}%`}</td></tr>`,
    )
    .join('');
  return `<table><caption class="vh">Service level objectives</caption><thead><tr><th scope="col">SLO</th><th scope="col">Component</th><th scope="col">Kind</th><th scope="col">Objective</th><th scope="col">Current SLI</th><th scope="col">Error budget left</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function renderUpdates(updates: readonly EventUpdate[]): string {
  return `<ol class="updates">${updates
    .map((u) => `<li><strong>${h(u.status)}</strong> <time datetime="${new Date(u.createdMs).toISOString()}">${fmtTime(u.createdMs)}</time><p class="body">${h(u.body)}</p></li>`)
    .join('')}</ol>`;
}

function renderIncident(i: Incident, names: ReadonlyMap<string, string>): string {
  const affected = Object.keys(i.components).map((id) => names.get(id) ?? id);
  return (
    `<article class="incident imp-${h(i.impact)}" id="incident-${h(i.id)}"><h3>${h(i.name)}</h3>` +
    `<p class="meta">Impact: ${h(i.impact)} · Status: ${h(i.status)} · Started ${fmtTime(i.createdMs)}${i.resolvedMs === null ? '' : ` · Resolved ${fmtTime(i.resolvedMs)}`}` +
    `${affected.length === 0 ? '' : ` · Affects: ${h(affected.join(', '))}`}</p>` +
    renderUpdates(i.updates) +
    '</article>'
  );
}

function renderActiveIncidents(model: StatusModel): string {
  const names = new Map(model.components.map((c) => [c.id, c.name]));
  const active = model.incidents.filter((i) => i.status !== 'resolved');
  return active.length === 0 ? '<p>No active incidents.</p>' : active.map((i) => renderIncident(i, names)).join('');
}

function renderMaintenanceItem(m: Maintenance, status: MaintenanceStatus, names: ReadonlyMap<string, string>): string {
  return (
    `<article class="maint" id="maintenance-${h(m.id)}"><h3>${h(m.name)}</h3>` +
    `<p class="meta">${status === 'scheduled' ? 'Scheduled' : status === 'completed' ? 'Completed' : 'In progress'}: ` +
    `${fmtTime(m.scheduledForMs)} to ${fmtTime(m.scheduledUntilMs)} · Affects: ${h(m.components.map((id) => names.get(id) ?? id).join(', ') || 'no component')}</p>` +
    renderUpdates(m.updates.filter((u) => u.body !== '')) +
    '</article>'
  );
}

function renderMaintenance(model: StatusModel): string {
  const names = new Map(model.components.map((c) => [c.id, c.name]));
  const open = model.maintenances.filter((m) => m.status !== 'completed').sort((a, b) => a.maintenance.scheduledForMs - b.maintenance.scheduledForMs);
  return open.length === 0 ? '<p>No maintenance is scheduled.</p>' : open.map((m) => renderMaintenanceItem(m.maintenance, m.status, names)).join('');
}

function renderHistory(model: StatusModel): string {
  const names = new Map(model.components.map((c) => [c.id, c.name]));
  const past = model.incidents.filter((i) => i.status === 'resolved').slice(0, PAST_INCIDENTS);
  return past.length === 0 ? '<p>No past incidents.</p>' : past.map((i) => renderIncident(i, names)).join('');
}

// The live-update script. It sets innerHTML only with sections the server rendered and escaped.
const SCRIPT = `(function(){
var ids=${JSON.stringify(SECTION_IDS)};var live=document.getElementById('live');var delay=1000;var gen=Number(document.body.getAttribute('data-generation'));
function apply(m){if(!m||m.type!=='status'||m.generation<=gen)return;gen=m.generation;for(var i=0;i<ids.length;i++){var el=document.getElementById('sec-'+ids[i]);if(el&&typeof m.sections[ids[i]]==='string')el.innerHTML=m.sections[ids[i]];}document.title=m.title;}
function connect(){if(!('WebSocket' in window))return;var ws=new WebSocket(location.href.replace(/^http/,'ws').replace(/[#?].*$/,'').replace(/\\/?$/,'/')+'ws');
ws.onopen=function(){delay=1000;live.textContent='Live updates on.';};
ws.onmessage=function(e){try{apply(JSON.parse(e.data));}catch(err){}};
ws.onclose=function(){live.textContent='Live updates paused; reconnecting.';setTimeout(connect,delay);delay=Math.min(delay*2,30000);};}
connect();})();`;

/** The Content-Security-Policy hash of the inline script. */
export const SCRIPT_HASH = `'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'`;

/** The page's Content-Security-Policy: nothing external, only this inline script. */
export const PAGE_CSP = `default-src 'none'; style-src 'unsafe-inline'; script-src ${SCRIPT_HASH}; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const CSS = `
:root{--good:#1a7f37;--fair:#7fb800;--poor:#e36209;--bad:#cf222e;--none:#b6bcc4;--fg:#1f2328;--muted:#59636e;--bg:#fff;--line:#d1d9e0}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:60rem;margin:0 auto;padding:0 1rem}h1{font-size:1.6rem;margin:1.5rem 0 .5rem}h2{font-size:1.25rem;margin:2rem 0 .75rem;border-bottom:1px solid var(--line)}h3{font-size:1.05rem;margin:.75rem 0 .25rem}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.banner{padding:1rem 1.25rem;border-radius:6px;color:#fff;font-weight:600;font-size:1.15rem;margin:0}.b-ok{background:var(--good)}.b-minor{background:#9a6700}.b-major{background:var(--poor)}.b-critical{background:var(--bad)}
.components{list-style:none;padding:0;margin:0}.component{border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;margin:.5rem 0}
.crow{display:flex;justify-content:space-between;gap:1rem;flex-wrap:wrap}.cname{font-weight:600}.desc{margin:.25rem 0;color:var(--muted)}
.st{font-weight:600}.st-operational{color:var(--good)}.st-degraded_performance{color:#9a6700}.st-partial_outage{color:var(--poor)}.st-major_outage{color:var(--bad)}.st-under_maintenance{color:#0969da}.st-no_data{color:var(--muted)}
.bars{display:flex;gap:2px;margin:.5rem 0 .25rem;height:2rem}.bars i{flex:1;border-radius:2px;min-width:2px}
.t-g i,.bars i.g{background:var(--good)}.t-f i,.bars i.f{background:var(--fair)}.t-p i,.bars i.p{background:var(--poor)}.t-b i,.bars i.b{background:var(--bad)}.t-n i,.bars i.n{background:var(--none)}i.x{outline:2px solid var(--fg);outline-offset:-2px}
.component{content-visibility:auto;contain-intrinsic-size:auto 7rem}details>summary{cursor:pointer}details>summary h3{display:inline;margin-right:.75rem}.tally{color:var(--muted)}
.axis{display:flex;justify-content:space-between;color:var(--muted);font-size:.8rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line)}
.incident,.maint{border-left:4px solid var(--line);padding:.25rem 1rem;margin:.75rem 0}.imp-minor{border-color:#9a6700}.imp-major{border-color:var(--poor)}.imp-critical{border-color:var(--bad)}.maint{border-color:#0969da}
.meta{color:var(--muted);margin:.25rem 0}.updates{list-style:none;padding:0}.updates li{margin:.5rem 0}.body{margin:.15rem 0;white-space:pre-wrap;overflow-wrap:anywhere}
.legend{display:flex;gap:1rem;flex-wrap:wrap;list-style:none;padding:0}.legend li::before{content:"";display:inline-block;width:.9rem;height:.9rem;margin-right:.35rem;vertical-align:-2px;border-radius:2px;background:var(--c)}
footer{color:var(--muted);font-size:.9rem;margin-bottom:2rem}a{color:#0969da}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--line:#30363d}.skip:focus{background:#0d1117}}
`;

/** The whole page for a model. */
export function renderPage(model: StatusModel, sections: Record<SectionId, string>, generation: number): string {
  const legend = UPTIME_BANDS.map((b) => `<li style="--c:var(--${b.tone})">${h(b.label)}</li>`).join('') + '<li style="--c:var(--none)">no data</li>';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(model.title)}</title><meta name="description" content="${h(`${model.title}: current status, uptime and incidents`)}">
<link rel="icon" href="data:,">
<link rel="alternate" type="application/atom+xml" title="Incident history (Atom)" href="history.atom">
<link rel="alternate" type="application/rss+xml" title="Incident history (RSS)" href="history.rss">
<style>${CSS}</style></head>
<body data-generation="${generation}"><a class="skip" href="#main">Skip to content</a>
<header><h1>${h(model.title)}</h1><div id="sec-banner" role="status" aria-live="polite">${sections.banner}</div></header>
<main id="main">
<section aria-labelledby="h-incidents"><h2 id="h-incidents">Active incidents</h2><div id="sec-incidents">${sections.incidents}</div></section>
<section aria-labelledby="h-maintenance"><h2 id="h-maintenance">Scheduled maintenance</h2><div id="sec-maintenance">${sections.maintenance}</div></section>
<section aria-labelledby="h-components"><h2 id="h-components">Components</h2>
<p>Each bar is one day (${h(model.timeZone)}), coloured by that day's uptime; hover over a bar of another colour than its row's for the date, uptime and incidents, or over the row for a summary.</p>
<ul class="legend" aria-label="Uptime colours">${legend}</ul>
<div id="sec-components">${sections.components}</div></section>
<section aria-labelledby="h-slos"><h2 id="h-slos">Service level objectives</h2><div id="sec-slos">${sections.slos}</div></section>
<section aria-labelledby="h-history"><h2 id="h-history">Past incidents</h2><div id="sec-history">${sections.history}</div></section>
</main>
<footer><p id="sec-updated">${sections.updated}</p><p><span id="live">Reload for the latest status.</span> Feeds: <a href="history.atom">Atom</a>, <a href="history.rss">RSS</a>. API: <a href="api/v2/summary.json">summary.json</a>.</p></footer>
<script>${SCRIPT}</script>
</body></html>`;
}
