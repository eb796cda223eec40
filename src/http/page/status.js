// The status page: polls /api/status (served from a snapshot, so viewers
// cost the pipeline nothing) every 2 s and keeps 5 minutes of history for
// the charts. The admin token lives in this variable only: never stored,
// never a cookie, sent as a bearer header.
"use strict";
let token = null;
const history = { rate: [], lag: [] };
const HISTORY = 150;

const $ = (id) => document.getElementById(id);
function text(el, s) { el.textContent = s; }
function fmt(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US", { maximumFractionDigits: 1 }); }
function secs(s) { return s === null || s === undefined ? "–" : s < 1 ? (s * 1000).toFixed(0) + " ms" : s.toFixed(2) + " s"; }
function cell(tr, v) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); return td; }

function chart(svg, values) {
  svg.replaceChildren();
  if (values.length < 2) return;
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => (i * 300 / (HISTORY - 1)).toFixed(1) + "," + (58 - v / max * 56).toFixed(1)).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", pts);
  svg.appendChild(line);
}

function render(d) {
  text($("group"), d.group);
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

async function admin(path) {
  const r = await fetch(path, { method: "POST", headers: { Authorization: "Bearer " + token } });
  text($("admin-result"), r.ok ? "done: " + path : "refused: HTTP " + r.status);
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  $("use-token").addEventListener("click", () => {
    token = $("token").value.trim() || null;
    $("token").value = "";
    $("admin").hidden = token === null;
  });
  $("pause").addEventListener("click", () => admin("/admin/pause-processing"));
  $("resume").addEventListener("click", () => admin("/admin/resume-processing"));
  poll();
  setInterval(poll, 2000);
});
