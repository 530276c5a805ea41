// #/asset/<id>: one asset — live tiles, a trend with zoom over history (server-side rollups),
// the SPC chart, health and remaining useful life, and the nameplate from the AAS.

import { api, b64url, showError } from "../api.js";
import { enableBrush, timeChart } from "../charts.js";
import { $, $$, dur, empty, esc, loading, num, pct, throttle, unitText, when } from "../util.js";

const STATE_NAMES = { 0: "running", 1: "idle", 2: "blocked", 3: "starved", 4: "down", 5: "setup" };
const RANGES = [
  ["5m", 5 * 60e3],
  ["1h", 3600e3],
  ["8h", 8 * 3600e3],
  ["24h", 24 * 3600e3],
  ["7d", 7 * 86400e3],
];
const RAW_MAX_MS = 10 * 60e3; // up to this window the trend shows raw samples, above it rollups
const TARGET_POINTS = 400;
const BUCKETS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
const RAW_KEEP = 12000;
const SPC_WINDOWS = ["15m", "1h", "8h"];
const SPC_REFRESH_MS = 30000;

export async function render(root, ctx, page, route) {
  const id = route.param;
  const plant = await ctx.plant({ signal: page.signal });
  const asset = plant.assets.find((a) => a.id === id);
  if (!asset) {
    root.innerHTML = `<h1 id="asset-title">Unknown asset</h1><p class="empty">No asset <code>${esc(id)}</code> in this plant. <a href="#/">Back to the plant</a>.</p>`;
    return;
  }
  const byId = new Map(plant.assets.map((a) => [a.id, a]));
  const path = [];
  for (let p = byId.get(asset.parent); p && path.length < 20; p = byId.get(p.parent)) path.unshift(p);
  const kids = plant.assets.filter((a) => a.parent === asset.id);
  const signals = asset.signals;
  const numeric = signals.filter((s) => !/^(state|mode)$/i.test(s.name));
  const first = numeric[0] || signals[0];

  root.innerHTML = `
    <div class="view-head">
      <nav class="crumbs" aria-label="Asset path"><a href="#/">Plant</a>${path.map((p) => ` › <a href="#/asset/${encodeURIComponent(p.id)}">${esc(p.name)}</a>`).join("")}</nav>
      <h1 id="asset-title">${esc(asset.name)} <span class="asset-id">${esc(asset.id)} · ${esc(asset.level)}</span></h1>
      <p class="summary">
        ${asset.state ? `<span class="state" data-state="${esc(asset.state)}">${esc(asset.state)}</span>` : ""}
        <a href="#/alarms?asset=${encodeURIComponent(asset.id)}">${asset.alarms} alarm${asset.alarms === 1 ? "" : "s"}</a>
        ${kids.length ? ` · parts of it: ${kids.map((k) => `<a href="#/asset/${encodeURIComponent(k.id)}">${esc(k.name)}</a>`).join(", ")}` : ""}
      </p>
    </div>
    ${signals.length ? `<section class="tiles" aria-label="Live values">${signals.map(tile).join("")}</section>` : empty("This asset has no signals of its own.")}
    <div class="panels">
      ${first ? `
      <section class="panel panel-wide">
        <div class="panel-head">
          <h2>Trend</h2>
          <label>Signal <select id="trend-signal">${signals.map((s) => `<option value="${esc(s.id)}"${s === first ? " selected" : ""}>${esc(s.name)}${unitText(s.unit) ? ` (${esc(unitText(s.unit))})` : ""}</option>`).join("")}</select></label>
          <div class="segmented" role="group" aria-label="Time range">
            ${RANGES.map(([label]) => `<button type="button" data-range="${label}"${label === "5m" ? ' aria-pressed="true"' : ' aria-pressed="false"'}>${label}</button>`).join("")}
          </div>
          <button type="button" id="trend-live" hidden>Back to live</button>
        </div>
        <div id="trend" class="chart-box" data-mode="raw">${loading()}</div>
        <p class="hint" id="trend-info">Drag across the chart to zoom in; the server rolls up long windows.</p>
      </section>
      <section class="panel panel-wide">
        <div class="panel-head">
          <h2>SPC</h2>
          <span class="muted" id="spc-signal"></span>
          <div class="segmented" role="group" aria-label="SPC window">
            ${SPC_WINDOWS.map((w) => `<button type="button" data-spc="${w}" aria-pressed="${w === "15m"}">${w}</button>`).join("")}
          </div>
        </div>
        <div id="spc" class="chart-box">${loading()}</div>
        <div id="spc-facts" class="facts"></div>
      </section>` : ""}
      <section class="panel">
        <h2>Health and remaining life</h2>
        <div id="health">${loading()}</div>
      </section>
      <section class="panel">
        <h2>Nameplate</h2>
        <div id="nameplate">${loading()}</div>
      </section>
    </div>`;

  // -- live tiles ---------------------------------------------------------------------------------
  const tiles = new Map($$("[data-signal]", root).map((el) => [el.dataset.signal, el]));
  const updateTiles = (rows) => {
    const newest = new Map();
    for (const r of rows) {
      const seen = newest.get(r.signal);
      if (!seen || r.ns >= seen.ns) newest.set(r.signal, r);
    }
    for (const [signal, r] of newest) {
      const el = tiles.get(signal);
      if (!el) continue;
      const value = el.querySelector(".tile-value");
      value.textContent = num(r.value);
      const extra = el.querySelector(".tile-extra");
      if (extra) extra.textContent = STATE_NAMES[r.value] || "";
      const quality = r.stale ? "stale" : r.quality;
      const q = el.querySelector(".tile-quality");
      if (q.textContent !== quality) q.textContent = quality;
      el.dataset.quality = quality;
      el.title = `${signal}: ${num(r.value)} at ${when(r.ns)} (${quality})`;
    }
  };
  if (signals.length) {
    api("/latest", { params: { signal: signals.map((s) => s.id) }, signal: page.signal })
      .then((body) => updateTiles(body.samples))
      .catch((error) => page.alive && showError(error, "Latest values"));
  }

  // -- trend ---------------------------------------------------------------------------------------
  const trend = first ? makeTrend(root, page, first, signals) : null;
  const stopLive = ctx.live.watch({
    signals: signals.map((s) => s.id),
    onSamples: (rows) => {
      updateTiles(rows);
      if (trend) trend.live(rows);
    },
  });
  page.onLeave(stopLive);
  root.querySelector(".tiles")?.addEventListener("click", (e) => {
    const el = e.target.closest("[data-signal]");
    if (el && trend) trend.choose(el.dataset.signal);
  });

  // -- SPC, health, nameplate (independent panels: one failing leaves the others) ------------------
  if (first) setupSpc(root, page, trend);
  loadHealth(root, page, asset);
  loadNameplate(root, page, asset);
}

function tile(s) {
  const isState = /^state$/i.test(s.name);
  return `<button type="button" class="tile" data-signal="${esc(s.id)}" data-quality="unknown" aria-label="${esc(s.name)}: show its trend">
    <span class="tile-name">${esc(s.name)}</span>
    <span class="tile-reading"><span class="tile-value">—</span><span class="tile-unit">${esc(unitText(s.unit))}</span></span>
    ${isState ? '<span class="tile-extra"></span>' : ""}
    <span class="tile-quality">waiting</span>
  </button>`;
}

// -- the trend: raw samples for short windows, min/mean/max rollups for long ones -----------------

function makeTrend(root, page, first, signals) {
  const box = $("#trend", root);
  const info = $("#trend-info", root);
  const liveButton = $("#trend-live", root);
  const select = $("#trend-signal", root);
  const state = { signal: first.id, span: RANGES[0][1], spanLabel: RANGES[0][0], zoom: null, mode: "raw", points: [], band: [], request: 0 };
  const unitOf = (id) => signals.find((s) => s.id === id)?.unit || "";

  const draw = () => {
    const width = box.clientWidth || 600;
    const height = Math.max(200, Math.min(320, Math.round(width * 0.32)));
    let x;
    if (state.zoom) x = state.zoom;
    else if (state.points.length || state.band.length) {
      const newest = Math.max(state.points.length ? state.points[state.points.length - 1][0] : -Infinity,
        state.band.length ? state.band[state.band.length - 1][0] : -Infinity);
      x = [newest - state.span, newest];
    }
    box.innerHTML = timeChart({
      width,
      height,
      x,
      unit: unitText(unitOf(state.signal)),
      series: [{ points: state.points, band: state.band, color: "#0b5cad", width: state.points.length > 800 ? 1.25 : 2 }],
    });
  };
  const drawSoon = throttle(draw, 200);

  const load = async () => {
    const ticket = ++state.request;
    const params = { signal: state.signal };
    let windowMs;
    if (state.zoom) {
      params.start = nsText(state.zoom[0]);
      params.end = nsText(state.zoom[1]);
      windowMs = state.zoom[1] - state.zoom[0];
    } else {
      params.start = state.spanLabel; // relative to the server's clock, not the browser's
      windowMs = state.span;
    }
    const raw = windowMs <= RAW_MAX_MS;
    box.setAttribute("aria-busy", "true");
    try {
      if (raw) {
        const body = await api("/history", { params: { ...params, limit: 10000 }, signal: page.signal });
        if (ticket !== state.request) return;
        state.points = body.samples.map((r) => [r.ns / 1e6, r.value]);
        state.band = [];
        state.mode = "raw";
        info.textContent = `${body.samples.length} samples${body.next_cursor ? " (the first 10,000)" : ""}. Drag across the chart to zoom in.`;
      } else {
        const bucket = BUCKETS_S.find((b) => b * 1000 >= windowMs / TARGET_POINTS) || 86400;
        const body = await api("/history", { params: { ...params, bucket: `${bucket}s`, agg: "min,max,mean" }, signal: page.signal });
        if (ticket !== state.request) return;
        state.points = body.rows.map((r) => [r.ns / 1e6, r.mean]);
        state.band = body.rows.map((r) => [r.ns / 1e6, r.min, r.max]);
        state.mode = "rollup";
        info.textContent = `Mean with min–max band per ${dur(bucket)} (server-side rollup, ${body.rows.length} buckets). Drag to zoom in.`;
      }
      box.dataset.mode = state.mode;
      draw();
    } catch (error) {
      if (!page.alive || ticket !== state.request) return;
      box.innerHTML = empty(`Could not load the history: ${error.message}`);
      showError(error, "Trend");
    } finally {
      box.removeAttribute("aria-busy");
    }
  };

  const setRange = (label) => {
    const found = RANGES.find(([l]) => l === label);
    state.span = found[1];
    state.spanLabel = label;
    state.zoom = null;
    liveButton.hidden = true;
    $$("[data-range]", root).forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.range === label)));
    load();
  };
  $$("[data-range]", root).forEach((b) => b.addEventListener("click", () => setRange(b.dataset.range)));
  liveButton.addEventListener("click", () => setRange(state.spanLabel));
  select.addEventListener("change", () => {
    state.signal = select.value;
    state.points = [];
    state.band = [];
    load();
    spcHook();
  });
  enableBrush(box, (t0, t1) => {
    state.zoom = [t0, t1];
    liveButton.hidden = false;
    $$("[data-range]", root).forEach((b) => b.setAttribute("aria-pressed", "false"));
    load();
  });
  const resize = new ResizeObserver(() => drawSoon());
  resize.observe(box);
  // Long windows are rollups: fetch them again now and then instead of appending raw samples.
  const rollupTimer = setInterval(() => !state.zoom && state.mode === "rollup" && load(), 30000);
  page.onLeave(() => {
    resize.disconnect();
    clearInterval(rollupTimer);
    drawSoon.cancel();
  });
  let spcHook = () => {};
  load();

  return {
    get signal() {
      return state.signal;
    },
    onSignal(fn) {
      spcHook = fn;
    },
    choose(signal) {
      if (signal === state.signal) return;
      select.value = signal;
      select.dispatchEvent(new Event("change"));
    },
    live(rows) {
      if (state.zoom || state.mode !== "raw") return;
      let added = false;
      for (const r of rows) {
        if (r.signal !== state.signal || r.value === null) continue;
        const t = r.ns / 1e6;
        if (state.points.length && t <= state.points[state.points.length - 1][0]) continue;
        state.points.push([t, r.value]);
        added = true;
      }
      if (!added) return;
      const oldest = state.points[state.points.length - 1][0] - state.span;
      let drop = 0;
      while (drop < state.points.length && state.points[drop][0] < oldest) drop++;
      if (drop || state.points.length > RAW_KEEP) state.points.splice(0, Math.max(drop, state.points.length - RAW_KEEP));
      drawSoon();
    },
  };
}

/** ms since the epoch -> integer ns as text (exact: the API takes integer ns). */
function nsText(ms) {
  return (BigInt(Math.round(ms)) * 1000000n).toString();
}

// -- SPC ------------------------------------------------------------------------------------------

function setupSpc(root, page, trend) {
  const box = $("#spc", root);
  const facts = $("#spc-facts", root);
  const label = $("#spc-signal", root);
  let windowLabel = SPC_WINDOWS[0];
  let ticket = 0;
  let last = null;
  const draw = () => {
    if (!last) return;
    const chart = last;
    const width = box.clientWidth || 600;
    const points = chart.points || [];
    const seen = new Set();
    const markers = [];
    for (const v of chart.violations || []) {
      if (seen.has(v.index)) continue;
      seen.add(v.index);
      const p = points[v.index];
      markers.push({ t: (p ? p.ns : v.ns) / 1e6, y: p ? p.value : v.value, label: `${v.rule}: ${v.description} (${when(v.ns)})` });
    }
    const l = chart.limits || {};
    box.innerHTML = timeChart({
      width,
      height: Math.max(200, Math.min(300, Math.round(width * 0.3))),
      series: [{ points: points.map((p) => [p.ns / 1e6, p.value]), color: "#1f2933", width: 1.5 }],
      lines: [
        { y: l.center, label: `CL ${num(l.center)}`, color: "#1a7f37" },
        { y: l.ucl, label: `UCL ${num(l.ucl)}`, color: "#b3261e", dash: true },
        { y: l.lcl, label: `LCL ${num(l.lcl)}`, color: "#b3261e", dash: true },
      ],
      markers: markers.slice(-300),
    });
  };
  const load = async () => {
    const signal = trend.signal;
    const mine = ++ticket;
    label.textContent = signal;
    try {
      const chart = await api(`/spc/${encodeURIComponent(signal)}`, {
        params: { start: windowLabel, max_violations: 300 },
        signal: page.signal,
      });
      if (mine !== ticket) return;
      last = chart;
      draw();
      const l = chart.limits || {};
      const broken = Object.entries(chart.counts || {}).filter(([, n]) => n > 0);
      const capability = chart.capability;
      facts.innerHTML = `<dl class="facts">
        <div><dt>chart</dt><dd>${esc(l.chart || "—")}${l.subgroup > 1 ? ` (n=${l.subgroup})` : ""}, ${chart.values} values</dd></div>
        <div><dt>centre / σ</dt><dd>${num(l.center)} / ${num(l.sigma)}</dd></div>
        <div><dt>rule violations</dt><dd>${broken.length ? broken.map(([r, n]) => `${esc(r)}: ${n}`).join(", ") : "none — in control"}</dd></div>
        ${capability ? `<div><dt>capability</dt><dd>Cp ${num(capability.cp)} · Cpk ${num(capability.cpk)}</dd></div>` : ""}
      </dl>
      ${broken.length ? '<p class="hint"><span class="violation-key">◆</span> marks a point that breaks a Nelson rule (hover or tap for which).</p>' : ""}`;
    } catch (error) {
      if (!page.alive || mine !== ticket) return;
      last = null;
      box.innerHTML = empty(error.status === 422 || error.status === 404 ? `No SPC chart: ${error.message}` : `Could not load the SPC chart: ${error.message}`);
      facts.innerHTML = "";
      if (error.status !== 422 && error.status !== 404) showError(error, "SPC");
    }
  };
  $$("[data-spc]", root).forEach((b) =>
    b.addEventListener("click", () => {
      windowLabel = b.dataset.spc;
      $$("[data-spc]", root).forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
      load();
    }),
  );
  trend.onSignal(load);
  const resize = new ResizeObserver(throttle(draw, 200));
  resize.observe(box);
  const timer = setInterval(load, SPC_REFRESH_MS);
  page.onLeave(() => {
    clearInterval(timer);
    resize.disconnect();
  });
  load();
}

// -- health and remaining useful life --------------------------------------------------------------

async function loadHealth(root, page, asset) {
  const box = $("#health", root);
  try {
    const body = await api("/maintenance", { signal: page.signal });
    const estimate = body.assets.find((a) => a.asset === asset.id);
    const orders = body.work_orders.filter((w) => w.machine === asset.id);
    if (!estimate) {
      box.innerHTML = `<p class="empty no-model">No model: ${body.enabled
        ? "no remaining-life estimate for this asset in the last 30 days."
        : "predictive maintenance is off in this werk (<code>[maintenance] enabled</code>)."}</p>`;
      return;
    }
    const unit = estimate.rul_unit || "cycles";
    box.innerHTML = `
      <div class="big-figures">
        <div><span class="figure">${num(estimate.health_index, 3)}</span><span class="figure-label">health index</span></div>
        <div><span class="figure">${num(estimate.rul, 3)}</span><span class="figure-label">remaining life, ${esc(unit)}</span></div>
      </div>
      ${rulBar(estimate)}
      <dl class="facts">
        <div><dt>interval</dt><dd>${num(estimate.rul_lower, 3)} – ${num(estimate.rul_upper, 3)} ${esc(unit)}${estimate.coverage ? ` (${pct(estimate.coverage, 0)} coverage)` : ""}</dd></div>
        ${estimate.failure_expected ? `<div><dt>failure expected</dt><dd>${esc(when(estimate.failure_expected))}${estimate.failure_earliest ? `, earliest ${esc(when(estimate.failure_earliest))}` : ""}</dd></div>` : ""}
        <div><dt>estimated</dt><dd>${esc(when(estimate.timestamp))}, model ${esc(estimate.model_version || "—")}</dd></div>
      </dl>
      ${orders.length ? `<h3>Suggested work orders</h3><ul>${orders.map((w) => `<li>${esc(w.reason || "maintenance")}: ${esc(when(w.since))} – ${esc(when(w.until))}</li>`).join("")}</ul>` : ""}`;
  } catch (error) {
    if (!page.alive) return;
    box.innerHTML = empty(`Could not load health: ${error.message}`);
    showError(error, "Health");
  }
}

function rulBar(e) {
  const hi = Math.max(e.rul_upper ?? 0, e.rul ?? 0) * 1.1 || 1;
  const x = (v) => (Math.max(0, v ?? 0) / hi) * 100;
  if (e.rul === null || e.rul === undefined) return "";
  return `<svg class="rul-bar" viewBox="0 0 100 14" preserveAspectRatio="none" role="img" aria-label="remaining life ${num(e.rul)} between ${num(e.rul_lower)} and ${num(e.rul_upper)}">
    <rect x="0" y="4" width="100" height="6" fill="#e4e7eb"/>
    <rect x="${x(e.rul_lower)}" y="2" width="${Math.max(0.5, x(e.rul_upper) - x(e.rul_lower))}" height="10" fill="#8fb3de"/>
    <rect x="${x(e.rul) - 0.4}" y="0" width="0.8" height="14" fill="#0b3d91"/>
  </svg>`;
}

// -- nameplate: the AAS Digital Nameplate submodel, else what the plant file says ------------------

async function loadNameplate(root, page, asset) {
  const box = $("#nameplate", root);
  const fallback = () => `<dl class="facts">
      <div><dt>id</dt><dd>${esc(asset.id)}</dd></div>
      <div><dt>name</dt><dd>${esc(asset.name)}</dd></div>
      <div><dt>level</dt><dd>${esc(asset.level)}</dd></div>
      <div><dt>parent</dt><dd>${esc(asset.parent || "—")}</dd></div>
      <div><dt>signals</dt><dd>${asset.signals.length}</dd></div>
    </dl>`;
  try {
    const shells = await api("/api/v3.0/shells", { params: { idShort: asset.id }, signal: page.signal });
    const shell = (shells.result || [])[0];
    const refs = shell ? (shell.submodels || []).map((r) => r.keys?.[0]?.value).filter(Boolean) : [];
    // The submodel named Nameplate first; else look at each for the nameplate's semantic id.
    refs.sort((a, b) => Number(/nameplate/i.test(b)) - Number(/nameplate/i.test(a)));
    let plate = null;
    for (const ref of refs.slice(0, 8)) {
      const sm = await api(`/api/v3.0/submodels/${b64url(ref)}`, { signal: page.signal });
      const semantic = sm.semanticId?.keys?.[0]?.value || "";
      if (/nameplate/i.test(semantic) || /nameplate/i.test(sm.idShort || "")) {
        plate = sm;
        break;
      }
      if (!/nameplate/i.test(ref)) break; // the likely one was not it: fall back, few requests
    }
    if (!plate) {
      box.innerHTML = `${fallback()}<p class="hint">No Digital Nameplate in this asset's shell${shell ? "" : " (no shell)"}; from the plant file.</p>`;
      return;
    }
    const rows = [];
    flatten(plate.submodelElements || [], "", rows);
    box.innerHTML = `<dl class="facts nameplate">${rows.slice(0, 40).map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${linkify(v)}</dd></div>`).join("")}</dl>
      <p class="hint">AAS submodel <code>${esc(plate.id)}</code></p>`;
  } catch (error) {
    if (!page.alive) return;
    box.innerHTML = `${fallback()}<p class="hint">The AAS could not be read (${esc(error.message)}); from the plant file.</p>`;
  }
}

function flatten(elements, prefix, rows) {
  for (const el of elements) {
    const name = prefix ? `${prefix} › ${words(el.idShort)}` : words(el.idShort);
    if (el.modelType === "SubmodelElementCollection" || el.modelType === "SubmodelElementList") {
      flatten(el.value || [], name, rows);
    } else if (el.modelType === "MultiLanguageProperty") {
      const texts = el.value || [];
      const text = (texts.find((t) => t.language?.startsWith("en")) || texts[0] || {}).text;
      if (text) rows.push([name, text]);
    } else if (el.modelType === "Property" && el.value !== undefined && el.value !== null && el.value !== "") {
      rows.push([name, String(el.value)]);
    }
  }
}

function words(idShort) {
  return String(idShort || "").replace(/([a-z])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2");
}

function linkify(value) {
  return /^https?:\/\//.test(value) ? `<a href="${esc(value)}" rel="noreferrer">${esc(value)}</a>` : esc(value);
}
