// #/ the plant: the ISA-95 tree with each asset's state, open alarms and today's OEE; search.
//
// One GET /plant draws the whole tree in one innerHTML pass (a 1,000-asset plant included); the
// OEE column follows after the first paint, in as few /oee calls as the URL length allows.
// States and alarm counts are refreshed every few seconds without redrawing the tree.

import { api, showError } from "../api.js";
import { $, esc, pct, startOfToday } from "../util.js";

const REFRESH_MS = 5000;
const OEE_REFRESH_MS = 60000;
const MIN_OEE_COVERAGE = 0.5; // share of today's planned time with a known machine state
const MAX_URL = 6000; // stay well under servers' request-line limits (h11: 16 KiB)
const STATE_MARK = { running: "▶", idle: "◻", blocked: "■", starved: "◆", down: "✖", setup: "⚙" };

export async function render(root, ctx, page) {
  const body = await ctx.plant({ fresh: true, signal: page.signal });
  const assets = body.assets;
  const byId = new Map(assets.map((a) => [a.id, a]));
  const children = new Map();
  const roots = [];
  for (const a of assets) {
    if (a.parent && byId.has(a.parent)) {
      if (!children.has(a.parent)) children.set(a.parent, []);
      children.get(a.parent).push(a);
    } else {
      roots.push(a);
    }
  }
  // Depth-first order, iteratively (a deep plant must not overflow the stack).
  const ordered = [];
  const stack = roots.slice().reverse().map((a) => [a, 0]);
  while (stack.length) {
    const [a, depth] = stack.pop();
    ordered.push([a, depth]);
    const kids = children.get(a.id) || [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
  }
  const title = body.plant ? body.plant.name : "Plant";
  const rows = ordered.map(([a, depth]) => row(a, depth, children.has(a.id))).join("");
  root.innerHTML = `
    <div class="view-head">
      <h1>${esc(title)}</h1>
      <p id="plant-summary" class="summary">${summary(assets)}</p>
    </div>
    <div class="toolbar">
      <label class="search"><span class="visually-hidden">Search assets</span>
        <input id="plant-search" type="search" placeholder="Search assets, levels, states  ( / )" autocomplete="off"></label>
      <button type="button" id="plant-expand">Expand all</button>
      <button type="button" id="plant-collapse">Collapse all</button>
      <span id="plant-count" class="muted" aria-live="polite">${assets.length} assets</span>
    </div>
    <div class="table-wrap">
      <table id="plant-tree" class="tree">
        <thead><tr><th scope="col">Asset</th><th scope="col" class="col-level">Level</th><th scope="col">State</th>
        <th scope="col" class="num">Alarms</th><th scope="col" class="num">OEE today</th></tr></thead>
        <tbody>${rows}</tbody>
      </table>
    </div>`;
  const tbody = $("#plant-tree tbody", root);
  const rowOf = new Map();
  for (const tr of tbody.rows) rowOf.set(tr.dataset.asset, tr);

  // -- collapse / expand, search ----------------------------------------------------------------
  const collapsed = new Set();
  const search = $("#plant-search", root);
  const count = $("#plant-count", root);
  const applyVisibility = () => {
    const query = search.value.trim().toLowerCase();
    let shown = 0;
    if (query) {
      const keep = new Set();
      for (const a of assets) {
        const text = `${a.name} ${a.id} ${a.level} ${a.state || ""}`.toLowerCase();
        if (!text.includes(query)) continue;
        for (let x = a; x && !keep.has(x.id); x = byId.get(x.parent)) keep.add(x.id);
      }
      for (const [id, tr] of rowOf) tr.hidden = !keep.has(id);
      shown = keep.size;
    } else {
      const hiddenUnder = new Set();
      for (const [a] of ordered) {
        const hide = a.parent && (hiddenUnder.has(a.parent) || collapsed.has(a.parent));
        if (hide) hiddenUnder.add(a.id);
        rowOf.get(a.id).hidden = Boolean(hide);
        if (!hide) shown++;
      }
    }
    count.textContent = query ? `${shown} of ${assets.length} assets` : `${assets.length} assets`;
  };
  // input: typing; search: the field's clear button; change: a value set by script (e.g. WebDriver's clear).
  for (const type of ["input", "search", "change"]) search.addEventListener(type, applyVisibility);
  tbody.addEventListener("click", (e) => {
    const twisty = e.target.closest("button.twisty");
    if (!twisty) return;
    const id = twisty.closest("tr").dataset.asset;
    if (collapsed.has(id)) collapsed.delete(id);
    else collapsed.add(id);
    twisty.setAttribute("aria-expanded", String(!collapsed.has(id)));
    twisty.textContent = collapsed.has(id) ? "▸" : "▾";
    applyVisibility();
  });
  const setAll = (collapse) => {
    collapsed.clear();
    for (const tr of tbody.rows) {
      const twisty = tr.querySelector("button.twisty");
      if (!twisty) continue;
      const fold = collapse && tr.dataset.depth !== "0"; // the top level stays open
      if (fold) collapsed.add(tr.dataset.asset);
      twisty.setAttribute("aria-expanded", String(!fold));
      twisty.textContent = fold ? "▸" : "▾";
    }
    applyVisibility();
  };
  $("#plant-expand", root).addEventListener("click", () => setAll(false));
  $("#plant-collapse", root).addEventListener("click", () => setAll(true));

  // -- OEE after the first paint; states and alarms refreshed --------------------------------------
  const oeeAssets = assets.filter((a) => a.has_oee).map((a) => a.id);
  const loadOee = async () => {
    try {
      for (const chunk of chunks(oeeAssets)) {
        const result = await api("/oee", {
          params: { asset: chunk, by: "total", start: startOfToday() },
          signal: page.signal,
        });
        for (const item of result.assets) {
          const cell = rowOf.get(item.asset)?.querySelector(".asset-oee");
          if (!cell) continue;
          const total = item.total;
          // time without a known machine state counts as planned time lost (ISO 22400 as werk
          // computes it); a machine werk has watched for minutes only would show a tiny OEE,
          // so below half of today's planned time covered the cell says so instead
          const known = total && total.planned_s ? 1 - (total.losses?.unknown_s || 0) / total.planned_s : 0;
          const enough = total && total.has_data && known >= MIN_OEE_COVERAGE;
          cell.textContent = enough ? pct(total.oee) : "—";
          cell.title = enough
            ? `availability ${pct(total.availability)} × performance ${pct(total.performance)} × quality ${pct(total.quality)}`
            : total && total.has_data
              ? `machine state known for ${pct(known, 0)} of today's planned time: too little for an OEE (see the OEE view)`
              : "no production data today";
        }
      }
    } catch (error) {
      if (!page.alive) return;
      for (const id of oeeAssets) {
        const cell = rowOf.get(id)?.querySelector(".asset-oee");
        if (cell && cell.textContent === "…") cell.textContent = "—";
      }
      showError(error, "OEE per asset");
    }
  };
  requestAnimationFrame(() => setTimeout(loadOee, 0));
  const oeeTimer = setInterval(loadOee, OEE_REFRESH_MS);
  const refresh = async () => {
    try {
      const fresh = await ctx.plant({ fresh: true, signal: page.signal });
      for (const a of fresh.assets) {
        const tr = rowOf.get(a.id);
        if (!tr) continue;
        const known = byId.get(a.id);
        if (known) Object.assign(known, a);
        const state = tr.querySelector(".asset-state");
        const text = a.state || "—";
        if (state.textContent !== text) {
          state.textContent = text;
          state.dataset.state = a.state || "none";
          state.title = a.state ? `${STATE_MARK[a.state] || ""} ${a.state}` : "no state signal";
        }
        const alarms = tr.querySelector(".asset-alarms");
        if (alarms.textContent !== String(a.alarms)) alarms.textContent = String(a.alarms);
        alarms.dataset.priority = a.alarms ? a.worst_priority || "low" : "none";
      }
      $("#plant-summary", root).innerHTML = summary(fresh.assets);
    } catch (error) {
      if (page.alive && error.status !== 401) showError(error, "Refreshing the plant");
    }
  };
  const timer = setInterval(refresh, REFRESH_MS);
  page.onLeave(() => {
    clearInterval(timer);
    clearInterval(oeeTimer);
  });
}

function row(a, depth, hasChildren) {
  const state = a.state || "none";
  const twisty = hasChildren
    ? `<button type="button" class="twisty" aria-expanded="true" aria-label="show or hide the assets under ${esc(a.name)}">▾</button>`
    : `<span class="twisty-space"></span>`;
  return `<tr data-asset="${esc(a.id)}" data-level="${esc(a.level)}" data-depth="${depth}">`
    + `<td class="asset-cell" style="--depth:${depth}">${twisty}<a class="asset-link" href="#/asset/${encodeURIComponent(a.id)}">${esc(a.name)}</a>`
    + (a.name !== a.id ? ` <span class="asset-id">${esc(a.id)}</span>` : "")
    + `</td><td class="col-level">${esc(a.level)}</td>`
    + `<td><span class="asset-state state" data-state="${esc(state)}">${esc(a.state || "—")}</span></td>`
    + `<td class="num"><span class="asset-alarms" data-priority="${a.alarms ? esc(a.worst_priority || "low") : "none"}" title="${a.alarms ? `worst: ${esc(a.worst_priority || "?")}` : "no alarms"}">${a.alarms}</span></td>`
    + `<td class="num asset-oee">${a.has_oee ? "…" : "—"}</td></tr>`;
}

function summary(assets) {
  const machines = assets.filter((a) => a.state);
  const counts = {};
  for (const a of machines) counts[a.state] = (counts[a.state] || 0) + 1;
  const alarms = assets.reduce((n, a) => n + (a.alarms || 0), 0);
  const states = Object.entries(counts)
    .sort((x, y) => y[1] - x[1])
    .map(([s, n]) => `<span class="state" data-state="${esc(s)}">${n} ${esc(s)}</span>`)
    .join(" ");
  return `${assets.length} assets · ${machines.length} with a state ${states} · `
    + `<a href="#/alarms">${alarms} alarm${alarms === 1 ? "" : "s"} need attention</a>`;
}

/** Asset ids split so that each /oee URL stays short. */
function chunks(ids) {
  const out = [];
  let current = [];
  let length = 0;
  for (const id of ids) {
    const part = encodeURIComponent(id).length + 7;
    if (current.length && length + part > MAX_URL) {
      out.push(current);
      current = [];
      length = 0;
    }
    current.push(id);
    length += part;
  }
  if (current.length) out.push(current);
  return out;
}
