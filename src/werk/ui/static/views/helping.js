// #/helping: is it helping? Alarm precision and load, detector share and drift, data-quality
// coverage, prediction error, and KPIs before/after marked changes.

import { api, showError } from "../api.js";
import { $, empty, esc, loading, num, pct, when } from "../util.js";

const WINDOWS = [["24h", "last 24 h"], ["7d", "last 7 days"], ["30d", "last 30 days"]];

export async function render(root, ctx, page) {
  root.innerHTML = `
    <div class="view-head"><h1>Is it helping?</h1>
      <p class="summary">Whether werk's alarms, detectors and predictions deserve trust — and what changed.</p></div>
    <div class="toolbar"><label>Window <select id="helping-window">${WINDOWS.map(([v, l]) => `<option value="${v}"${v === "7d" ? " selected" : ""}>${l}</option>`).join("")}</select></label></div>
    <div id="helping">${loading()}</div>`;
  const box = $("#helping", root);
  const load = async () => {
    box.setAttribute("aria-busy", "true");
    try {
      const h = await api("/helping", { params: { start: $("#helping-window", root).value }, signal: page.signal });
      box.innerHTML = view(h);
      box.querySelectorAll("button.compare").forEach((b) => b.addEventListener("click", () => compare(b, page)));
    } catch (error) {
      if (!page.alive) return;
      box.innerHTML = empty(`Could not load: ${error.message}`);
      showError(error, "Is it helping?");
    } finally {
      box.removeAttribute("aria-busy");
    }
  };
  $("#helping-window", root).addEventListener("change", load);
  await load();
}

function view(h) {
  const a = h.alarms || {};
  const rates = a.rates || {};
  const precision = a.precision || {};
  const detectors = h.detectors || [];
  const quality = Object.entries(h.quality || {});
  const predictions = h.predictions || {};
  const changes = h.changes || [];
  const findings = h.findings || [];
  return `
    <section class="panel findings-panel">
      <h2>What needs a look</h2>
      <ul id="findings" class="findings">${findings.length ? findings.map((f) => `<li>${esc(f)}</li>`).join("") : '<li class="ok">Nothing: the figures below look healthy.</li>'}</ul>
    </section>
    <div class="panels">
      <section class="panel">
        <h2>Alarms</h2>
        <div class="big-figures">
          <div><span class="figure">${precision.precision === null || precision.precision === undefined ? "—" : pct(precision.precision, 0)}</span><span class="figure-label">precision (real ÷ judged)</span></div>
          <div><span class="figure">${num(rates.per_operator_hour)}</span><span class="figure-label">alarms per operator-hour</span></div>
        </div>
        <dl class="facts">
          <div><dt>ISA-18.2</dt><dd>${esc(rates.benchmark || "—")} (≤ ${num(rates.benchmark_per_hour?.very_likely_acceptable)} acceptable, ≤ ${num(rates.benchmark_per_hour?.maximum_manageable)} manageable)</dd></div>
          <div><dt>verdicts</dt><dd>${num(precision.real)} real, ${num(precision.false)} false, ${num(precision.unjudged)} not judged</dd></div>
          <div><dt>floods</dt><dd>${num(rates.flood_periods)} ten-minute periods (${pct(rates.flood_share)})</dd></div>
          <div><dt>chattering</dt><dd>${(a.chattering || []).length ? (a.chattering || []).map((c) => esc(c.alarm_id || c)).join(", ") : "none"}</dd></div>
          <div><dt>stale</dt><dd>${(a.stale || []).length ? (a.stale || []).map((c) => esc(c.alarm_id || c)).join(", ") : "none"}</dd></div>
          <div><dt>time to acknowledge</dt><dd>${a.time_to_acknowledge?.median_s ? `median ${num(a.time_to_acknowledge.median_s)} s` : "—"}</dd></div>
        </dl>
        ${byCondition(precision)}
      </section>
      <section class="panel">
        <h2>Data-quality coverage</h2>
        ${quality.length ? `<ul class="coverage">${quality.map(([asset, q]) => coverageRow(asset, q)).join("")}</ul>` : empty("No data-quality screen in this werk.")}
      </section>
      <section class="panel panel-wide">
        <h2>Detectors</h2>
        <p class="hint">Anomalous share above 5 % means a detector describes normal operation, not anomalies; drift (PSI) above 0.25 means its idea of normal is out of date.</p>
        ${detectors.length ? `<div class="table-wrap"><table>
          <thead><tr><th scope="col">Watches</th><th scope="col">Detector</th><th scope="col" class="num">Anomalous share</th><th scope="col" class="num">Drift (PSI)</th><th scope="col">Now</th></tr></thead>
          <tbody>${detectors.map(detectorRow).join("")}</tbody></table></div>` : empty("No detectors are running.")}
      </section>
      <section class="panel">
        <h2>Predictions against what happened</h2>
        ${predictions.outcomes ? `<dl class="facts">
          <div><dt>failures judged</dt><dd>${num(predictions.failures_judged)} of ${num(predictions.outcomes)} outcomes</dd></div>
          <div><dt>RMSE</dt><dd>${num(predictions.rmse)}</dd></div>
          <div><dt>mean error</dt><dd>${num(predictions.mean_error)} (positive: predicted too late)</dd></div>
          <div><dt>interval coverage</dt><dd>${pct(predictions.interval_coverage, 0)}</dd></div>
        </dl>` : empty("No recorded failures to judge the remaining-life predictions against yet.")}
      </section>
      <section class="panel">
        <h2>Changes, before and after</h2>
        ${changes.length ? `<ul class="changes">${changes.map(changeRow).join("")}</ul>` : empty("No changes marked in this window (engineers mark them: POST /api/v1/changes or `werk analytics mark`).")}
      </section>
    </div>`;
}

function byCondition(precision) {
  const rows = Object.entries(precision.by_condition || {});
  if (!rows.length) return "";
  return `<div class="table-wrap"><table><thead><tr><th scope="col">Condition</th><th scope="col" class="num">Precision</th><th scope="col" class="num">Real</th><th scope="col" class="num">False</th></tr></thead>
    <tbody>${rows.map(([c, p]) => `<tr><th scope="row">${esc(c)}</th><td class="num">${pct(p.precision, 0)}</td><td class="num">${num(p.real)}</td><td class="num">${num(p.false)}</td></tr>`).join("")}</tbody></table></div>`;
}

function coverageRow(asset, q) {
  const share = q.coverage ?? 0;
  const problems = Object.entries(q.problems || {}).map(([s, rules]) => `${s}: ${rules.join(", ")}`);
  return `<li><a href="#/asset/${encodeURIComponent(asset)}">${esc(asset)}</a>
    <span class="meter" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${Math.round(share * 100)}" aria-label="coverage of ${esc(asset)}"><span style="width:${(share * 100).toFixed(1)}%" data-low="${share < 0.9}"></span></span>
    <strong>${pct(share, 0)}</strong> <span class="muted">${q.covered}/${q.signals} signals${problems.length ? ` — ${esc(problems.join("; "))}` : ""}</span></li>`;
}

function detectorRow(d) {
  const share = d.anomalous_share;
  const drift = d.drift && typeof d.drift === "object" ? d.drift.worst_psi : d.drift;
  const hot = share !== null && share > 0.05;
  const drifting = Boolean(d.drift && d.drift.drifted && d.drift.drifted.length) || (drift ?? 0) > 0.25;
  return `<tr><th scope="row">${esc(d.source)}</th><td>${esc(d.detector)}</td>
    <td class="num${hot ? " bad" : ""}">${pct(share)}${hot ? " ⚠" : ""}</td>
    <td class="num${drifting ? " bad" : ""}">${num(drift, 3)}${drifting ? " ⚠" : ""}</td>
    <td>${d.active ? '<span class="state" data-state="down">anomaly</span>' : "normal"}</td></tr>`;
}

function changeRow(c) {
  return `<li data-change="${esc(c.id)}"><strong>${esc(c.title)}</strong> — ${esc(when(c.at_ns ?? c.at))}${c.asset ? ` on ${esc(c.asset)}` : ""}${c.user ? ` by ${esc(c.user)}` : ""}
    ${c.asset ? `<span class="compare-controls"><select class="kpi" aria-label="KPI to compare">${["oee", "availability", "performance", "quality", "scrap", "downtime", "alarms"].map((k) => `<option>${k}</option>`).join("")}</select>
    <button type="button" class="compare" data-asset="${esc(c.asset)}" data-change="${esc(c.id)}">Compare before/after</button></span>` : ""}
    <div class="compare-result"></div></li>`;
}

async function compare(button, page) {
  const li = button.closest("li");
  const out = li.querySelector(".compare-result");
  out.innerHTML = loading("Comparing…");
  try {
    const r = await api("/kpis/compare", {
      params: { asset: button.dataset.asset, change: button.dataset.change, kpi: li.querySelector("select.kpi").value },
      signal: page.signal,
    });
    const [low, high] = r.interval || [null, null];
    out.innerHTML = `<dl class="facts inline">
      <div><dt>before</dt><dd>${num(r.before?.mean)} (${num(r.before?.n)} days)</dd></div><div><dt>after</dt><dd>${num(r.after?.mean)} (${num(r.after?.n)} days)</dd></div>
      <div><dt>difference</dt><dd>${num(r.difference)} (${Math.round((r.confidence || 0.95) * 100)} % CI ${num(low)} … ${num(high)})</dd></div>
      <div><dt>verdict</dt><dd>${esc(r.verdict || "—")}</dd></div></dl>`;
  } catch (error) {
    if (!page.alive) return;
    out.innerHTML = empty(`Could not compare: ${error.message}`);
  }
}
