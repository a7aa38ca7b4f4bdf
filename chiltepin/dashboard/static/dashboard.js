// chiltepin dashboard: polls its own server's JSON once a second (or draws the run embedded
// in a saved report) with plain DOM and SVG (no library, no request to any other host).
// Every text from a journal goes in through textContent, never as markup.
"use strict";

const POLL_MS = 1000;
const COLOURS = ["#2563eb", "#d97706", "#059669", "#9333ea", "#dc2626", "#0891b2", "#65a30d"];
const SVG = "http://www.w3.org/2000/svg";

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function num(value, digits) {
  if (value === null || value === undefined) return "–";
  return typeof value === "number" && digits !== undefined ? value.toFixed(digits) : String(value);
}

function when(t) {
  return t ? new Date(t * 1000).toLocaleTimeString() : "–";
}

function setText(id, value) {
  const node = document.getElementById(id);
  if (node.textContent !== String(value)) node.textContent = String(value);
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = el("tr");
    for (const cell of cells) tr.append(cell instanceof Node ? cell : el("td", cell));
    return tr;
  }));
}

async function poll(url, draw) {
  try {
    const response = await fetch(url, { cache: "no-store" });
    if (response.ok) draw(await response.json());
  } finally {
    setTimeout(() => poll(url, draw), POLL_MS);
  }
}

// -- the runs list ------------------------------------------------------------------------

function drawRuns(runs) {
  const tbody = document.querySelector("#runs tbody");
  fill(tbody, runs.map((r) => {
    const link = el("a", r.run);
    link.href = "/run/" + encodeURIComponent(r.run);
    const name = el("td", null, "text");
    name.append(link);
    const state = el("td", null, "text");
    state.append(el("span", r.state, "badge " + r.state));
    return [name, state, when(r.started), r.tasks, r.succeeded, r.failed, r.pending,
      num(r.cost.node_hours, 4), num(r.cost.spent, 4) + " " + r.cost.unit];
  }));
  document.getElementById("empty").hidden = runs.length > 0;
  setText("updated", "as of " + new Date().toLocaleTimeString());
}

// -- the endpoints page ------------------------------------------------------------------

function endpointStatus(e) {
  const td = el("td", null, "text");
  const st = e.status;
  td.append(el("span", st ? st.status : "not asked yet", "badge " + (st ? st.status : "unknown")));
  if (st && st.error) td.append(el("span", st.error, "note unhealthy"));
  return td;
}

function endpointRuns(e) {
  const td = el("td", null, "text runs");
  td.append(...e.runs.map((r) => {
    const line = el("div");
    const link = el("a", r.run);
    link.href = "/run/" + encodeURIComponent(r.run);
    line.append(link, el("span", ` (${r.state}: ${r.out} out, ${r.succeeded} ok, ${r.failed} failed)`, "muted"));
    return line;
  }));
  return td;
}

function drawEndpoints(doc) {
  const tbody = document.querySelector("#endpoints tbody");
  fill(tbody, doc.endpoints.map((e) => {
    const name = el("td", null, "text");
    name.append(el("b", e.names.join(", ") || "–"), el("span", e.endpoint_id, "note muted"));
    if (!e.configured) name.append(el("span", "named by a run, not in the sites file", "note muted"));
    const st = e.status || {};
    const asked = st.at ? when(st.at) + (st.source === "service" ? "" : " (" + st.source + ")") : "–";
    return [name, endpointStatus(e), num(st.total_workers), num(st.idle_workers), asked,
      e.out, e.placed, e.succeeded, e.failed, endpointRuns(e)];
  }));
  tbody.querySelectorAll("tr").forEach((tr, i) => { tr.dataset.endpoint = doc.endpoints[i].endpoint_id; });
  document.getElementById("no-endpoints").hidden = doc.endpoints.length > 0;
  setText("rates", `The service is asked for one endpoint's status at most every ${doc.limits.endpoint_every_s} s,`
    + ` and for any at most every ${doc.limits.request_every_s} s, only while this page is open:`
    + " the request budget is left to the runs. A live run's own fresh status is shown instead.");
  setText("updated", "as of " + new Date().toLocaleTimeString());
}

// -- one run ------------------------------------------------------------------------------

function siteState(status) {
  const td = el("td", null, "text");
  if (!status) td.textContent = "no status yet";
  else if (status.healthy) td.append(el("span", status.state || "online", "healthy"));
  else {
    const why = (status.state || "unhealthy") + ": " + (status.reason || "no reason given");
    td.append(el("span", why, "unhealthy"));
  }
  return td;
}

// A live count the site may not report: "–" where unknown, and why as the cell's tooltip
// (the view says why, per column: not yet, or never for this kind of site).
function liveCount(text, column, why) {
  const td = el("td", text);
  td.dataset.col = column;
  if (why) td.title = why;
  return td;
}

function drawSites(run) {
  fill(document.querySelector("#sites tbody"), run.sites.map((s) => {
    const st = s.status || {};
    const name = el("td", s.site, "text");
    const workers = st.workers == null ? "–" : `${st.workers} (${num(st.idle)})`;
    const blocks = st.blocks_running == null && st.blocks_pending == null ? "–"
      : `${num(st.blocks_running)} / ${num(st.blocks_pending)}`;
    return [name, siteState(s.status), liveCount(workers, "workers", s.unknown.workers),
      liveCount(blocks, "blocks", s.unknown.blocks), num(st.capacity), num(st.outstanding),
      num(st.window), num(st.run_s, 2), num(st.queue_wait_s, 2), num(st.failure_rate, 3),
      s.placed, s.succeeded, s.failed, s.retried, s.failed_over, s.raced,
      num(s.node_hours, 4), num(s.cost, 4) + " " + s.cost_unit];
  }));
}

function drawCounts(run) {
  for (const [key, value] of Object.entries(run.counts)) setText("count-" + key, value);
  const states = document.getElementById("states");
  const entries = Object.entries(run.states);
  states.replaceChildren(...(entries.length ? entries : [["no status yet", ""]]).map(([k, v]) => {
    const span = el("span", k + ": ");
    span.append(el("b", v));
    span.dataset.state = k;
    return span;
  }));
  setText("held-client", num(run.held_on_client));
  const cost = run.cost;
  setText("cost", num(cost.spent, 4) + " " + cost.unit);
  const meter = document.getElementById("budget");
  meter.hidden = cost.budget === null;
  if (cost.budget !== null) {
    meter.max = cost.budget;
    meter.value = Math.min(cost.spent, cost.budget);
    setText("budget-text", "of " + cost.budget + " " + cost.unit + " budget");
  }
}

function axis(chart, width, height, [from, to]) {
  chart.append(svg("line", { x1: 0, y1: height, x2: width, y2: height, stroke: "#9ca3af" }));
  const attrs = { y: height - 4, "font-size": 11, fill: "#6b7280" };
  const end = svg("text", { ...attrs, x: width - 4, "text-anchor": "end" });
  end.textContent = Math.round(to) + " s";
  chart.append(end);
  if (from > 0) {
    const start = svg("text", { ...attrs, x: 4, "data-edge": "start" });
    start.textContent = Math.round(from) + " s";
    chart.append(start);
  }
}

// -- zooming the timeline -------------------------------------------------------------------
// Dragging across the timeline picks a window of the run (seconds since its first event);
// the timeline and the throughput chart then draw that window until a double-click or
// "whole run". The window stays put while a live run's page updates under it.

let zoom = null;  // [from, to] seconds, or null: the whole run
let brush = null;  // [from, to] while a drag is under way
let shown = null;  // the run last drawn, redrawn at once when the window changes

function runSeconds(run) {
  const series = run.series;
  const buckets = Math.max(1, ...Object.values(series.running).map((v) => v.length),
    ...Object.values(series.throughput).map((v) => v.length));
  return buckets * (series.width_s || 1);
}

function windowOf(run) {
  return zoom || [0, runSeconds(run)];
}

function secondsAt(chart, event, [from, to]) {
  const box = chart.getBoundingClientRect();
  const f = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
  return from + f * (to - from);
}

function setZoom(value) {
  zoom = value;
  brush = null;
  document.getElementById("zoom-reset").hidden = zoom === null;
  if (shown) {
    drawTimeline(shown);
    drawThroughput(shown);
  }
}

function zoomable(chart) {
  chart.addEventListener("pointerdown", (event) => {
    if (!shown || event.button !== 0) return;
    const at = secondsAt(chart, event, windowOf(shown));
    brush = [at, at];
    chart.setPointerCapture(event.pointerId);
  });
  chart.addEventListener("pointermove", (event) => {
    if (!brush) return;
    brush[1] = secondsAt(chart, event, windowOf(shown));
    drawBrush(chart, windowOf(shown));
  });
  chart.addEventListener("pointerup", () => {
    if (!brush) return;
    const [a, b] = [Math.min(...brush), Math.max(...brush)];
    const [from, to] = windowOf(shown);
    if ((b - a) / (to - from) > 0.01) setZoom([a, b]);  // a click is not a zoom
    else { brush = null; drawBrush(chart, [from, to]); }
  });
  chart.addEventListener("dblclick", () => setZoom(null));
  document.getElementById("zoom-reset").addEventListener("click", () => setZoom(null));
}

function drawBrush(chart, [from, to]) {
  chart.querySelector("#zoom-brush")?.remove();
  if (!brush) return;
  const W = 900, scale = W / (to - from);
  const [a, b] = [Math.min(...brush), Math.max(...brush)];
  chart.append(svg("rect", { id: "zoom-brush", x: (a - from) * scale, y: 0,
    width: Math.max(1, (b - a) * scale), height: 260, fill: "#2563eb", opacity: 0.15 }));
}

function drawTimeline(run) {
  const chart = document.getElementById("timeline");
  chart.replaceChildren();
  const series = run.series;
  const sites = run.sites.map((s) => s.site);
  const running = series.running;
  const width = series.width_s || 1;
  const [from, to] = windowOf(run);
  chart.dataset.window = `${from.toFixed(1)},${to.toFixed(1)}`;
  const W = 900, H = 190, BAR = 12;
  const scale = W / (to - from);
  const x = (seconds) => (seconds - from) * scale;
  const inView = (i) => (i + 1) * width > from && i * width < to;
  const top = Math.max(1, ...Object.values(running).flatMap((v) => v.filter((_, i) => inView(i))));
  const y = (v) => H - (v / top) * (H - 10);
  sites.forEach((site, n) => {
    const values = running[site] || [];
    if (!values.length) return;
    const points = values.map((v, i) => `${x(i * width)},${y(v)} ${x((i + 1) * width)},${y(v)}`);
    chart.append(svg("polyline", { points: points.join(" "), fill: "none",
      stroke: COLOURS[n % COLOURS.length], "stroke-width": 2, "data-site": site }));
  });
  axis(chart, W, H, [from, to]);
  const origin = series.origin || 0;
  run.jobs.forEach((job) => {
    const n = sites.indexOf(job.site);
    const top_ = H + 8 + (n < 0 ? 0 : n) * (BAR + 4);
    const bar = svg("rect", { x: x(job.start - origin), y: top_,
      width: Math.max(2, (job.end - job.start) * scale), height: BAR,
      fill: COLOURS[Math.max(0, n) % COLOURS.length], opacity: 0.5 });
    const title = svg("title", {});
    title.textContent = `${job.site} job ${job.job}: ${job.nodes} node(s), ${(job.end - job.start).toFixed(1)} s`;
    bar.append(title);
    chart.append(bar);
  });
  const label = svg("text", { x: 4, y: 12, "font-size": 11, fill: "#6b7280" });
  label.textContent = "max " + top.toFixed(1) + " running";
  chart.append(label);
  drawBrush(chart, [from, to]);
  document.getElementById("legend").replaceChildren(...sites.map((site, n) => {
    const span = el("span", site);
    const swatch = el("i");
    swatch.style.background = COLOURS[n % COLOURS.length];
    span.prepend(swatch);
    return span;
  }));
}

function drawThroughput(run) {
  const chart = document.getElementById("throughput");
  chart.replaceChildren();
  const { succeeded, failed } = run.series.throughput;
  const width = run.series.width_s || 1;
  const [from, to] = windowOf(run);
  const W = 900, H = 130;
  const scale = W / (to - from);
  const inView = (i) => (i + 1) * width > from && i * width < to;
  const top = Math.max(0.001, ...succeeded.map((v, i) => inView(i) ? v + (failed[i] || 0) : 0));
  const w = Math.max(1, width * scale - 1);
  succeeded.forEach((v, i) => {
    if (!inView(i)) return;
    const f = failed[i] || 0;
    const x = (i * width - from) * scale;
    const hOk = (v / top) * (H - 10), hBad = (f / top) * (H - 10);
    if (hOk) chart.append(svg("rect", { x, y: H - hOk, width: w, height: hOk, fill: "#15803d" }));
    if (hBad) chart.append(svg("rect", { x, y: H - hOk - hBad, width: w, height: hBad, fill: "#b91c1c" }));
  });
  axis(chart, W, H, [from, to]);
  const label = svg("text", { x: 4, y: 12, "font-size": 11, fill: "#6b7280" });
  label.textContent = "max " + top.toFixed(2) + " /s";
  chart.append(label);
}

function drawFailures(run) {
  const list = document.getElementById("failures");
  list.replaceChildren(...run.failures.map((f) => {
    const li = el("li");
    li.append(el("span", `${f.task} on ${f.site || "no site"} (attempt ${f.attempt}, ${f.kind}) at ${when(f.at)}: `));
    li.append(el("span", f.message, "message"));
    li.append(el("pre", f.lines.join("\n")));
    return li;
  }));
  document.getElementById("no-failures").hidden = run.failures.length > 0;
}

function drawEvents(run) {
  document.getElementById("events").replaceChildren(...run.events.map((e) =>
    el("li", `${when(e.at)} ${e.site ? e.site + ": " : ""}${e.text}`)));
}

function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

function drawTransfers(run) {
  const rows = run.transfers || [];  // a report saved before transfers were shown has none
  fill(document.querySelector("#transfers tbody"), rows.map((t) => {
    const failed = el("td", t.failed, t.failed ? "unhealthy" : undefined);
    const error = el("td", t.last_error ? t.last_error + (t.last_task ? " [task " + t.last_task + "]" : "") : "–", "text");
    error.style.whiteSpace = "normal";  // an error's line may be long: wrap it, not the table
    const size = el("td", bytes(t.bytes));
    size.title = t.bytes + " bytes";
    return [t.direction, el("td", t.source, "text"), el("td", t.destination, "text"), t.batches,
      t.ok, failed, t.in_flight, t.pairs, t.files, size, error];
  }));
  document.getElementById("transfers").hidden = rows.length === 0;
  document.getElementById("no-transfers").hidden = rows.length > 0;
}

// The run's Academy agents, one row each; the section is shown only for a run with any.
function drawAgents(run) {
  const rows = run.agents || [];  // a report saved before agents were shown has none
  const tbody = document.querySelector("#agents tbody");
  fill(tbody, rows.map((a) => {
    const tone = { running: " healthy", failed: " unhealthy" }[a.state] || "";
    const state = el("td", a.state, "text" + tone);
    const error = el("td", a.error || "–", "text");
    error.style.whiteSpace = "normal";  // an error's line may be long: wrap it, not the table
    return [el("td", a.agent, "text"), el("td", a.name, "text"), el("td", a.site || "–", "text"),
      el("td", a.ran_on || "–", "text"), a.launches, state, error];
  }));
  tbody.querySelectorAll("tr").forEach((tr, i) => { tr.dataset.agent = rows[i].agent; });
  document.getElementById("agents-section").hidden = rows.length === 0;
}

function drawRun(run) {
  shown = run;
  setText("run-name", run.run);
  document.title = "chiltepin " + run.run;
  const badge = document.getElementById("run-state");
  badge.textContent = run.state;
  badge.className = "badge " + run.state;
  const journal = run.journal;
  setText("updated", journal && journal.partial
    ? `reading the journal: ${Math.floor((100 * journal.read) / Math.max(1, journal.size))} % (counts so far)`
    : "journal as of " + when(run.updated));
  drawCounts(run);
  drawSites(run);
  drawAgents(run);
  drawTimeline(run);
  drawThroughput(run);
  drawFailures(run);
  drawEvents(run);
  drawTransfers(run);
}

// The token has become a cookie; keep it out of the address bar (and of screenshots).
if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", location.pathname);

if (document.body.dataset.page === "run") zoomable(document.getElementById("timeline"));

// A saved report (chiltepin/dashboard/export.py) embeds its run: draw it once, ask no one.
const embedded = document.getElementById("run-data");
if (embedded) {
  document.getElementById("runs-link").remove();  // no runs list in a file on its own
  drawRun(JSON.parse(embedded.textContent));
} else if (document.body.dataset.page === "runs") {
  poll("/api/runs", drawRuns);
} else if (document.body.dataset.page === "endpoints") {
  poll("/api/endpoints", drawEndpoints);
} else {
  const name = decodeURIComponent(location.pathname.split("/").pop());
  poll("/api/run/" + encodeURIComponent(name), drawRun);
}
