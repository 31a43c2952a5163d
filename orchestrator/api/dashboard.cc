// The dashboard page served at `/` by `cmo serve`. Everything inline (no external assets: it
// must work air-gapped and leak no request to a CDN); it polls the JSON API every 2 s.
#include "orchestrator/api/internal/http_parts.h"

namespace cmo::orchestrator::api_internal {

std::string_view DashboardHtml() {
  static constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cmo — consistency migration</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:baseline}
#login{margin-left:auto}
header h1{font-size:18px;margin:0} header span{opacity:.75}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px;padding:16px}
section{background:#fff;border-radius:6px;box-shadow:0 1px 3px #0002;padding:12px 16px;overflow:auto}
h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e5e7eb;white-space:nowrap}
th{font-weight:600;color:#555;font-size:12px;text-transform:uppercase}
.bar{background:#e5e7eb;border-radius:3px;height:8px;width:120px;display:inline-block;vertical-align:middle;margin-right:6px}
.bar i{display:block;height:8px;border-radius:3px;background:#2f80ed}
.closed{color:#1e8449} .half_open{color:#b9770e;font-weight:600} .open{color:#c0392b;font-weight:700}
.burn-hot{color:#c0392b;font-weight:700}
.err{color:#c0392b} .muted{color:#888}
input{padding:4px 8px;font:inherit} button{font:inherit;padding:4px 10px}
</style></head><body>
<header><h1>cmo</h1><span id="rev">revision –</span><span id="updated">connecting…</span>
<form id="login"><input id="token" type="password" size="24" placeholder="viewer token" aria-label="API token">
<button>Use token</button></form></header>
<main>
<section style="grid-column:1/-1"><h2>Operations</h2>
<table id="ops"><thead><tr><th>op</th><th>domain</th><th>target</th><th>stage</th><th>eventual share</th>
<th>shadow</th><th>breaker</th><th>budget burn (short)</th><th>budget left</th><th>plan step</th></tr></thead><tbody></tbody></table></section>
<section><h2>Replication lag per region</h2>
<table id="regions"><thead><tr><th>region</th><th>watermark</th><th>behind (changes)</th><th>p50 lag</th><th>p99 lag</th></tr></thead><tbody></tbody></table>
<p id="outbox" class="muted"></p></section>
<section><h2>Divergence search</h2>
<form id="search"><input id="user" placeholder="user id, e.g. user-42" aria-label="user id">
<input id="since" value="24h" size="5" aria-label="since"> <button>Search</button></form>
<p id="div-summary" class="muted">Where did my comment go? Enter a user id.</p>
<table id="divergence"><thead><tr><th>detected (UTC)</th><th>what happened</th></tr></thead><tbody></tbody></table></section>
<section style="grid-column:1/-1"><h2>Support overrides (users sent strong)</h2>
<p id="overrides-note" class="muted"></p>
<table id="overrides"><thead><tr><th>id</th><th>subject</th><th>scope</th><th>expires (UTC)</th><th>by</th><th>reason</th></tr></thead><tbody></tbody></table></section>
<section style="grid-column:1/-1"><h2>Recent audit events</h2>
<p id="audit-note" class="muted"></p>
<table id="audit"><thead><tr><th>rev</th><th>time (UTC)</th><th>actor</th><th>op</th><th>action</th><th>reason</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
"use strict";
const $ = (s) => document.querySelector(s);
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
// User-level data (audit, divergence) needs a token of role viewer or above; it is kept for
// this tab only (sessionStorage), never in the page or the URL.
const token = () => sessionStorage.getItem("cmo-token") || "";
const NEEDS_TOKEN = "needs a viewer token: enter one above (cmo token create NAME --role viewer)";
async function get(path) {
  const headers = token() ? {Authorization: "Bearer " + token()} : {};
  const r = await fetch(path, {cache: "no-store", headers});
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.message : r.status);
  return body;
}
function pct(x) { return (Math.round(x * 100) / 100) + "%"; }
function ms(x) { return x >= 1000 ? (x / 1000).toFixed(1) + " s" : Math.round(x) + " ms"; }
async function budgetOf(op) {
  try { return await get("/v1/ops/" + encodeURIComponent(op) + "/budget"); } catch (e) { return null; }
}
async function refreshOps() {
  const [ops, plans] = await Promise.all([get("/v1/ops"), get("/v1/plans")]);
  const steps = {}; for (const p of plans) steps[p.op] = p;
  const budgets = await Promise.all(ops.map((f) => budgetOf(f.op)));
  const body = $("#ops tbody"); body.replaceChildren();
  let rev = 0;
  ops.forEach((f, i) => {
    rev = Math.max(rev, f.revision || 0);
    const tr = body.insertRow(); tr.dataset.op = f.op;
    cell(tr, f.op); cell(tr, f.domain); cell(tr, f.target); cell(tr, f.stage, "stage");
    const eventual = f.effective_percent;  // routed now: breaker and probe included
    const td = cell(tr, ""); td.className = "percent";
    const bar = document.createElement("span"); bar.className = "bar";
    const fill = document.createElement("i"); fill.style.width = eventual + "%"; bar.appendChild(fill);
    td.appendChild(bar); td.appendChild(document.createTextNode(pct(eventual)));
    cell(tr, f.stage === "shadow" || f.stage === "ramp" ? pct(f.shadow_bp / 100) : "–");
    cell(tr, f.breaker.replace("_", "-"), f.breaker);
    const b = budgets[i];
    // Only SLIs with enough fresh evidence count: no data is not health (never "100% left").
    const known = b && b.slis ? b.slis.filter((s) => s.enough_data) : [];
    if (known.length > 0) {
      const burn = Math.max(0, ...known.map((s) => typeof s.burn_short === "number" ? s.burn_short : 1e9));
      const left = Math.min(...known.map((s) => s.remaining));
      cell(tr, burn >= 1e9 ? "∞" : burn.toFixed(1) + "×", burn >= 1 ? "burn-hot" : "");
      cell(tr, Math.round(left * 100) + "%");
    } else if (b && b.slis) { cell(tr, "no data", "muted"); cell(tr, "no data", "muted"); }
    else { cell(tr, "–", "muted"); cell(tr, "–", "muted"); }
    const p = steps[f.op];
    cell(tr, p && p.step > 0 ? p.phase + " " + p.step + "/" + p.steps + (p.paused ? " (paused)" : "") : "–");
  });
  $("#rev").textContent = "revision " + rev;
}
async function refreshRegions() {
  const s = await get("/v1/status");
  const body = $("#regions tbody"); body.replaceChildren();
  if (!s.data_path) { $("#outbox").textContent = "no data path in this process"; return; }
  for (const r of s.regions) {
    const tr = body.insertRow(); tr.dataset.region = r.region;
    cell(tr, r.region); cell(tr, r.watermark); cell(tr, r.lag_lsn); cell(tr, ms(r.lag_p50_ms)); cell(tr, ms(r.lag_p99_ms));
  }
  $("#outbox").textContent = "primary at LSN " + s.last_lsn + ", outbox lag " + s.outbox_lag + " change(s)";
}
const stamp = (t) => t.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "").replace("Z", "");
// A table of user-level data: filled from `path` with a viewer token, emptied with a note
// without one. Without a token no call is made: each refused one would be an audit entry.
async function tokenTable(id, what, path, fill) {
  const body = $("#" + id + " tbody"), note = $("#" + id + "-note");
  if (!token()) { body.replaceChildren(); note.textContent = what + " " + NEEDS_TOKEN; return; }
  let entries;
  try { entries = await get(path); }
  catch (e) { body.replaceChildren(); note.textContent = e.message; return; }
  note.textContent = entries.length ? "" : "none";
  body.replaceChildren();
  for (const e of entries) fill(body.insertRow(), e);
}
const refreshAudit = () => tokenTable("audit", "Audit events", "/v1/audit?limit=20", (tr, e) => {
  cell(tr, e.revision); cell(tr, stamp(e.at));
  cell(tr, e.actor); cell(tr, e.op); cell(tr, e.action); cell(tr, e.reason);
});
const refreshOverrides = () => tokenTable("overrides", "Support overrides", "/v1/overrides", (tr, o) => {
  tr.dataset.subject = o.subject;
  cell(tr, o.id); cell(tr, o.subject); cell(tr, o.scope); cell(tr, stamp(o.expires));
  cell(tr, o.actor); cell(tr, o.reason);
});
async function search(ev) {
  if (ev) ev.preventDefault();
  const user = $("#user").value.trim();
  if (!user) return;
  const body = $("#divergence tbody"); body.replaceChildren();
  if (!token()) { $("#div-summary").className = "err"; $("#div-summary").textContent = "Divergence search " + NEEDS_TOKEN; return; }
  try {
    const r = await get("/v1/divergence?user=" + encodeURIComponent(user) + "&since=" + encodeURIComponent($("#since").value));
    $("#div-summary").className = "muted";
    $("#div-summary").textContent = r.count + " item(s): " + r.title;
    for (const it of r.items) { const tr = body.insertRow(); cell(tr, it.detected_at); cell(tr, it.summary); }
  } catch (e) { $("#div-summary").className = "err"; $("#div-summary").textContent = e.message; }
}
async function refresh() {
  try {
    await Promise.all([refreshOps(), refreshRegions(), refreshAudit(), refreshOverrides()]);
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
    $("#updated").className = "";
  } catch (e) { $("#updated").textContent = "error: " + e.message; $("#updated").className = "err"; }
}
$("#search").addEventListener("submit", search);
$("#login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("cmo-token", $("#token").value.trim());
  $("#token").value = "";
  refresh();
});
refresh(); setInterval(refresh, 2000);
</script></body></html>
)HTML";
  return kPage;
}

}  // namespace cmo::orchestrator::api_internal
