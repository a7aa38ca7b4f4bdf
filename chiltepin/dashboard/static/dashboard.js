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

function drawSites(run) {
  fill(document.querySelector("#sites tbody"), run.sites.map((s) => {
    const st = s.status || {};
    const name = el("td", s.site, "text");
    return [name, siteState(s.status), num(st.workers), num(st.capacity), num(st.outstanding),
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

function axis(chart, width, height, seconds) {
  chart.append(svg("line", { x1: 0, y1: height, x2: width, y2: height, stroke: "#9ca3af" }));
  const label = svg("text", { x: width - 4, y: height - 4, "text-anchor": "end", "font-size": 11,
    fill: "#6b7280" });
  label.textContent = Math.round(seconds) + " s";
  chart.append(label);
}

function drawTimeline(run) {
  const chart = document.getElementById("timeline");
  chart.replaceChildren();
  const series = run.series;
  const sites = run.sites.map((s) => s.site);
  const running = series.running;
  const buckets = Math.max(1, ...Object.values(running).map((v) => v.length),
    ...Object.values(series.throughput).map((v) => v.length));
  const seconds = buckets * (series.width_s || 1);
  const W = 900, H = 190, BAR = 12;
  const top = Math.max(1, ...Object.values(running).flat());
  const x = (i) => (i / buckets) * W;
  sites.forEach((site, n) => {
    const values = running[site] || [];
    if (!values.length) return;
    const points = values.map((v, i) => `${x(i)},${H - (v / top) * (H - 10)} ${x(i + 1)},${H - (v / top) * (H - 10)}`);
    chart.append(svg("polyline", { points: points.join(" "), fill: "none",
      stroke: COLOURS[n % COLOURS.length], "stroke-width": 2, "data-site": site }));
  });
  axis(chart, W, H, seconds);
  const origin = series.origin || 0;
  const scale = W / seconds;
  run.jobs.forEach((job) => {
    const n = sites.indexOf(job.site);
    const y = H + 8 + (n < 0 ? 0 : n) * (BAR + 4);
    const bar = svg("rect", { x: (job.start - origin) * scale, y,
      width: Math.max(2, (job.end - job.start) * scale), height: BAR,
      fill: COLOURS[Math.max(0, n) % COLOURS.length], opacity: 0.5 });
    const title = svg("title", {});
    title.textContent = `${job.site} job ${job.job}: ${job.nodes} node(s), ${(job.end - job.start).toFixed(1)} s`;
    bar.append(title);
    chart.append(bar);
  });
  const top_ = svg("text", { x: 4, y: 12, "font-size": 11, fill: "#6b7280" });
  top_.textContent = "max " + top.toFixed(1) + " running";
  chart.append(top_);
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
  const buckets = Math.max(1, succeeded.length, failed.length);
  const W = 900, H = 130;
  const top = Math.max(0.001, ...succeeded.map((v, i) => v + (failed[i] || 0)));
  const w = W / buckets;
  succeeded.forEach((v, i) => {
    const f = failed[i] || 0;
    const hOk = (v / top) * (H - 10), hBad = (f / top) * (H - 10);
    if (hOk) chart.append(svg("rect", { x: i * w, y: H - hOk, width: Math.max(1, w - 1), height: hOk, fill: "#15803d" }));
    if (hBad) chart.append(svg("rect", { x: i * w, y: H - hOk - hBad, width: Math.max(1, w - 1), height: hBad, fill: "#b91c1c" }));
  });
  axis(chart, W, H, buckets * (run.series.width_s || 1));
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

function drawRun(run) {
  setText("run-name", run.run);
  document.title = "chiltepin " + run.run;
  const badge = document.getElementById("run-state");
  badge.textContent = run.state;
  badge.className = "badge " + run.state;
  setText("updated", "journal as of " + when(run.updated));
  drawCounts(run);
  drawSites(run);
  drawTimeline(run);
  drawThroughput(run);
  drawFailures(run);
  drawEvents(run);
  drawTransfers(run);
}

// The token has become a cookie; keep it out of the address bar (and of screenshots).
if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", location.pathname);

// A saved report (chiltepin/dashboard/export.py) embeds its run: draw it once, ask no one.
const embedded = document.getElementById("run-data");
if (embedded) {
  document.getElementById("runs-link").remove();  // no runs list in a file on its own
  drawRun(JSON.parse(embedded.textContent));
} else if (document.body.dataset.page === "runs") {
  poll("/api/runs", drawRuns);
} else {
  const name = decodeURIComponent(location.pathname.split("/").pop());
  poll("/api/run/" + encodeURIComponent(name), drawRun);
}
