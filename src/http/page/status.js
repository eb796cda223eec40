// The status page: live from /api/status/stream (server-sent events, a
// document each time the snapshot changes); while the stream is down or
// silent it polls /api/status every 2 s. Both are served from a snapshot,
// so viewers cost the pipeline nothing. Keeps ~5 minutes of history for
// the charts. The admin token lives in this variable only: never stored,
// never a cookie, sent as a bearer header.
"use strict";
let token = null;
let group = null, topic = null;
let streamed = 0;       // when the stream last delivered (ms)
let mode = "polling";
const history = { rate: [], lag: [] };
const HISTORY = 300;
const STALE_MS = 5000;

const $ = (id) => document.getElementById(id);
function text(el, s) { el.textContent = s; }
function fmt(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US", { maximumFractionDigits: 1 }); }
function secs(s) { return s === null || s === undefined ? "–" : s < 0.001 ? "<1 ms" : s < 1 ? (s * 1000).toFixed(0) + " ms" : s.toFixed(2) + " s"; }
function cell(tr, v) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); return td; }

function chart(svg, values) {
  svg.replaceChildren();
  if (values.length < 2) return;
  const max = Math.max(1, ...values);
  const span = Math.max(values.length, 30) - 1;   // spread over the width until there is history to fill it
  const pts = values.map((v, i) => (i * 300 / span).toFixed(1) + "," + (58 - v / max * 56).toFixed(1)).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", pts);
  svg.appendChild(line);
}

function render(d) {
  group = d.group; topic = d.topic;
  text($("group"), d.group);
  text($("mode"), mode);
  const v = $("verdict");
  const bad = d.checks.find((c) => c.state === "error") ? "error" : d.checks.find((c) => c.state === "warning") ? "warning" : "ok";
  text(v, bad); v.className = "pill " + bad;
  text($("updated"), "as of " + d.refreshed_at);
  const board = $("checks"); board.replaceChildren();
  for (const c of d.checks) {
    const div = document.createElement("div");
    div.className = "check " + c.state;
    const b = document.createElement("b"); b.textContent = c.name + ": " + c.state;
    const p = document.createElement("div"); p.className = "muted"; p.textContent = c.detail;
    div.append(b, p); board.appendChild(div);
  }
  const rate = Object.values(d.records_per_s || {}).reduce((a, b) => a + b, 0);
  text($("rate"), fmt(rate));
  text($("lag"), fmt(d.totals.lag));
  history.rate.push(rate); history.lag.push(Math.max(0, d.totals.lag));
  for (const k of ["rate", "lag"]) if (history[k].length > HISTORY) history[k].shift();
  chart($("rate-chart"), history.rate); chart($("lag-chart"), history.lag);
  text($("latency"), secs(d.latency.end_to_end_p50_s) + " / " + secs(d.latency.end_to_end_p99_s));
  text($("classify"), "classify " + secs(d.latency.classify_p50_s) + " / " + secs(d.latency.classify_p99_s));
  text($("totals"), "issues " + fmt(d.totals.issues) + " · classified " + fmt(d.totals.enriched) +
       " · DLQ " + fmt(d.totals.dlq_depth) + " · retry path " + fmt(d.totals.retry_depth));
  const hosts = {};
  for (const p of d.processes) hosts[p.process_id] = p.host + ":" + p.pid;
  const pt = $("partitions").tBodies[0]; pt.replaceChildren();
  for (const p of d.partitions) {
    const tr = document.createElement("tr");
    tr.dataset.partition = p.partition;
    cell(tr, p.partition); cell(tr, p.owner ? hosts[p.owner] || p.owner : "none");
    if (p.error) { const td = cell(tr, "broker error: " + p.error); td.colSpan = 5; }
    else {
      cell(tr, p.committed_offset === null ? "none yet" : fmt(p.committed_offset));
      cell(tr, fmt(p.high_watermark)); cell(tr, fmt(p.lag)); cell(tr, fmt(p.in_flight));
      cell(tr, p.paused ? "paused (" + (p.paused_why.join(", ") || "held") + ")" : "");
    }
    const td = cell(tr, ""); td.className = "admin-only";
    const held = p.paused_why && p.paused_why.includes("admin");
    const b = document.createElement("button");
    b.type = "button"; b.textContent = held ? "Resume" : "Pause";
    b.addEventListener("click", () => partitionAdmin(held ? "resume" : "pause", p.partition));
    td.appendChild(b);
    pt.appendChild(tr);
  }
  const pr = $("processes").tBodies[0]; pr.replaceChildren();
  for (const p of d.processes) {
    const tr = document.createElement("tr");
    if (p.gone) tr.className = "gone";
    cell(tr, p.host); cell(tr, p.pid); cell(tr, p.version); cell(tr, p.state);
    cell(tr, fmt(p.uptime_s) + " s"); cell(tr, fmt(p.rss_bytes / 1048576) + " MB");
    cell(tr, fmt(p.last_heard_s) + " s ago"); cell(tr, p.partitions.map((x) => x.partition).join(", "));
    pr.appendChild(tr);
  }
  text($("llm"), "breaker " + d.circuit_state + " · budget " + (d.budget.remaining < 0 ? "not known yet" :
       fmt(d.budget.remaining) + " of " + fmt(d.budget.daily_limit) + " left today"));
  const dq = $("dlq").tBodies[0]; dq.replaceChildren();
  for (const r of d.dlq_recent || []) {
    const tr = document.createElement("tr");
    cell(tr, r.dlq_at); cell(tr, r.key); cell(tr, r.error_class || ""); cell(tr, fmt(r.attempts));
    cell(tr, r.original_partition === undefined ? "" : r.original_partition + "/" + r.original_offset);
    cell(tr, r.error || "").className = "wrap";
    dq.appendChild(tr);
  }
  $("dlq-none").hidden = (d.dlq_recent || []).length > 0;
  const sy = $("syncs");
  sy.replaceChildren();
  if (!d.syncs.length) text(sy, "none");
  for (const s of d.syncs) {
    const div = document.createElement("div");
    div.textContent = s.repository + " " + s.status + " " + fmt(s.issues_synced) + " / " + fmt(s.issues_total);
    sy.appendChild(div);
  }
}

async function poll() {
  try {
    const r = await fetch("/api/status", { cache: "no-store" });
    if (r.ok) render(await r.json());
    else text($("updated"), "status: HTTP " + r.status);
  } catch (e) {
    text($("updated"), "status: unreachable");
  }
}

async function admin(path, body) {
  const headers = { Authorization: "Bearer " + token };
  if (body) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method: "POST", headers, body: body ? JSON.stringify(body) : undefined });
  text($("admin-result"), r.ok ? "done: " + path : "refused: HTTP " + r.status);
  poll();
}

function partitionAdmin(what, partition) {
  admin("/api/admin/kafka/consumer-groups/" + encodeURIComponent(group) + "/" + what, { topic, partitions: [partition] });
}

// Live while the stream delivers; polling whenever it has been silent for
// STALE_MS (down, reconnecting, or no EventSource in this browser).
function live() {
  if (typeof EventSource === "undefined") return;
  const es = new EventSource("/api/status/stream");
  es.addEventListener("status", (e) => { streamed = Date.now(); mode = "live"; render(JSON.parse(e.data)); });
  es.addEventListener("error", () => { mode = "polling"; });
}

function watchdog() {
  if (Date.now() - streamed >= STALE_MS) { mode = "polling"; poll(); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("use-token").addEventListener("click", () => {
    token = $("token").value.trim() || null;
    $("token").value = "";
    $("admin").hidden = token === null;
    document.body.classList.toggle("admin-on", token !== null);
  });
  $("pause").addEventListener("click", () => admin("/admin/pause-processing"));
  $("resume").addEventListener("click", () => admin("/admin/resume-processing"));
  poll();
  live();
  setInterval(watchdog, 2000);
});
