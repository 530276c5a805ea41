// #/alarms: what needs attention, acknowledge (with a verdict) and shelve (operators and above),
// and the audit trail: who did what, when. #/alarms?asset=<id> shows one asset's alarms.

import { api, notice, showError } from "../api.js";
import { $, dur, empty, esc, loading, routeQuery, throttle, when } from "../util.js";

const PRIORITY_MARK = { urgent: "‼", high: "▲", medium: "●", low: "○" };
const STATE_TEXT = {
  unack: "active, not acknowledged",
  acked: "active, acknowledged",
  rtnunack: "cleared, not acknowledged",
  shelved: "shelved",
  normal: "normal",
};
const RECENT_MS = 60000;
const SHELVE_CHOICES = [
  [900, "15 min"],
  [3600, "1 h"],
  [8 * 3600, "8 h"],
  [24 * 3600, "24 h"],
];

export async function render(root, ctx, page, route) {
  const query = routeQuery(route.query);
  const operator = ctx.can("operator");
  root.innerHTML = `
    <div class="view-head">
      <h1>Alarms${query.asset ? ` of <a href="#/asset/${encodeURIComponent(query.asset)}">${esc(query.asset)}</a>` : ""}</h1>
      <p class="summary" id="alarm-kpis"></p>
    </div>
    <div class="toolbar">
      <label>Priority at least <select id="alarm-priority">
        <option value="">any</option><option value="medium">medium</option><option value="high">high</option><option value="urgent">urgent</option>
      </select></label>
      <label class="check"><input type="checkbox" id="alarm-shelved" checked> show shelved</label>
      ${query.asset ? '<a href="#/alarms">all assets</a>' : ""}
      ${operator ? "" : '<span class="muted">Sign in as an operator to acknowledge and shelve.</span>'}
    </div>
    <div class="table-wrap">
      <table class="alarms">
        <thead><tr><th scope="col">Priority</th><th scope="col">Alarm</th><th scope="col">State</th><th scope="col" class="col-raised">Raised</th>${operator ? '<th scope="col">Action</th>' : ""}</tr></thead>
        <tbody id="alarm-list"><tr><td colspan="5">${loading()}</td></tr></tbody>
      </table>
    </div>
    <section class="panel">
      <h2>Audit trail</h2>
      <p class="hint">Alarm events of the last 24 hours, newest first: who did what, when.</p>
      <div class="table-wrap" id="alarm-history">${loading()}</div>
    </section>`;
  const list = $("#alarm-list", root);
  const recent = new Map(); // id -> {alarm, until}: alarms handled here, kept in view a while
  const priority = $("#alarm-priority", root);
  const showShelved = $("#alarm-shelved", root);

  const loadList = async () => {
    try {
      const body = await api("/alarms", {
        params: { asset: query.asset, priority: priority.value || undefined },
        signal: page.signal,
      });
      // An alarm acknowledged here after it cleared is normal now and leaves the server's list;
      // it stays on screen for a while, so the operator sees what their action did.
      const now = Date.now();
      const listed = new Set(body.alarms.map((a) => a.id));
      for (const [id, entry] of recent) if (entry.until < now || listed.has(id)) recent.delete(id);
      const alarms = body.alarms
        .concat([...recent.values()].map((entry) => entry.alarm))
        .filter((a) => showShelved.checked || a.state !== "shelved")
        .sort((a, b) => rank(b) - rank(a) || b.raised_at - a.raised_at);
      if (alarms.length) reconcile(list, alarms, operator);
      else list.innerHTML = `<tr><td colspan="5">${empty("No alarms need attention.")}</td></tr>`;
    } catch (error) {
      if (!page.alive) return;
      list.innerHTML = `<tr><td colspan="5">${empty(`Could not load the alarms: ${error.message}`)}</td></tr>`;
      showError(error, "Alarms");
    }
  };
  const loadHistory = async () => {
    const box = $("#alarm-history", root);
    try {
      const body = await api("/alarms/history", { params: { limit: 200, source: query.asset }, signal: page.signal });
      box.innerHTML = body.events.length
        ? `<table class="history"><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Alarm</th><th scope="col">Note</th></tr></thead><tbody>${body.events.map(historyRow).join("")}</tbody></table>`
        : empty("No alarm events in the last 24 hours.");
    } catch (error) {
      if (!page.alive) return;
      box.innerHTML = empty(`Could not load the audit trail: ${error.message}`);
      showError(error, "Audit trail");
    }
  };
  const loadKpis = async () => {
    try {
      const k = await api("/alarms/kpis", { signal: page.signal });
      const r = k.rates || {};
      const p = k.precision || {};
      $("#alarm-kpis", root).innerHTML = `Last 24 h: ${r.alarms ?? "—"} alarms, ${r.per_operator_hour ?? "—"} per operator-hour (${esc(r.benchmark || "—")}) · precision ${p.precision === null || p.precision === undefined ? "— (no verdicts yet)" : `${Math.round(p.precision * 100)} %`} · <a href="#/helping">is it helping?</a>`;
    } catch {
      /* the list and its errors matter more; the figures are a bonus */
    }
  };

  // -- actions ---------------------------------------------------------------------------------------
  list.addEventListener("click", async (e) => {
    const button = e.target.closest("button.ack, button.shelve, button.unshelve");
    if (!button) return;
    const tr = button.closest("tr[data-alarm]");
    const id = tr.dataset.alarm;
    const path = `/alarms/${encodeURIComponent(id)}`;
    button.disabled = true;
    try {
      let updated;
      if (button.classList.contains("ack")) {
        const verdict = tr.querySelector("select.verdict")?.value || null;
        updated = await api(`${path}/acknowledge`, { method: "POST", body: { verdict } });
        notice(`Acknowledged ${id}${verdict ? ` as ${verdict}` : ""}`, "ok");
      } else if (button.classList.contains("shelve")) {
        const seconds = Number(tr.querySelector("select.shelve-for")?.value || 3600);
        updated = await api(`${path}/shelve`, { method: "POST", body: { duration_s: seconds } });
        notice(`Shelved ${id} for ${dur(seconds)}${updated.capped ? ` (capped at ${dur(updated.max_shelve_s)})` : ""}`, "ok");
      } else {
        updated = await api(`${path}/unshelve`, { method: "POST" });
        notice(`Unshelved ${id}`, "ok");
      }
      if (updated.state === "normal") recent.set(updated.id, { alarm: updated, until: Date.now() + RECENT_MS });
      tr.outerHTML = alarmRow(updated, operator);
      listSoon();
      historySoon();
    } catch (error) {
      showError(error, `${button.textContent.trim()} ${id}`);
      button.disabled = false;
    }
  });
  priority.addEventListener("change", loadList);
  showShelved.addEventListener("change", loadList);

  // Alarm events come over the live feed: the list and the trail follow them.
  const listSoon = throttle(loadList, 500);
  const historySoon = throttle(loadHistory, 1000);
  const stop = ctx.live.watch({
    events: true,
    onEvent: (event) => {
      if (!event.kind.startsWith("alarm.")) return;
      listSoon();
      historySoon();
    },
  });
  // …and a slow poll, for when the live feed is down.
  const timer = setInterval(() => {
    if (ctx.live.state !== "live") {
      loadList();
      loadHistory();
    }
    loadKpis();
  }, 15000);
  page.onLeave(() => {
    stop();
    clearInterval(timer);
    listSoon.cancel();
    historySoon.cancel();
  });
  await Promise.all([loadList(), loadHistory(), loadKpis()]);
}

/**
 * Update the list in place: a row whose alarm did not change is kept as it is (with the verdict
 * or duration an operator is choosing, and the focus); changed rows are replaced, gone ones removed.
 */
function reconcile(list, alarms, operator) {
  const existing = new Map();
  for (const tr of list.querySelectorAll("tr[data-alarm]")) existing.set(tr.dataset.alarm, tr);
  const template = document.createElement("template");
  const rows = alarms.map((a) => {
    const old = existing.get(a.id);
    const sig = signature(a);
    if (old && old.dataset.sig === sig) return old;
    template.innerHTML = alarmRow(a, operator);
    const row = template.content.firstElementChild;
    if (old) {
      for (const name of ["verdict", "shelve-for"]) {
        const before = old.querySelector(`select.${name}`), after = row.querySelector(`select.${name}`);
        if (before && after) after.value = before.value;
      }
    }
    return row;
  });
  const keep = new Set(rows);
  for (const child of [...list.children]) if (!keep.has(child)) child.remove();
  rows.forEach((row, i) => {
    if (list.children[i] !== row) list.insertBefore(row, list.children[i] || null);
  });
}

function signature(a) {
  return [a.state, a.priority, a.message, a.acked_by, a.verdict, a.shelved_until, a.activations].join("|");
}

function rank(a) {
  const states = { unack: 3, rtnunack: 2, acked: 1, shelved: 0, normal: 0 };
  const priorities = { urgent: 4, high: 3, medium: 2, low: 1 };
  return (states[a.state] || 0) * 10 + (priorities[a.priority] || 0);
}

function alarmRow(a, operator) {
  const shelved = a.state === "shelved";
  const canAck = a.state === "unack" || a.state === "rtnunack";
  let actions = "";
  if (operator) {
    const ack = canAck
      ? `<select class="verdict" aria-label="verdict for ${esc(a.id)}"><option value="">verdict…</option><option value="real">real</option><option value="false">false alarm</option></select>
         <button type="button" class="ack primary">Acknowledge</button>`
      : "";
    const shelve = shelved
      ? `<button type="button" class="unshelve">Unshelve</button>`
      : `<select class="shelve-for" aria-label="shelve ${esc(a.id)} for">${SHELVE_CHOICES.map(([s, l]) => `<option value="${s}"${s === 3600 ? " selected" : ""}>${l}</option>`).join("")}</select>
         <button type="button" class="shelve">Shelve</button>`;
    actions = `<td class="actions">${ack}${shelve}</td>`;
  }
  const detail = [];
  if (a.acked_by) detail.push(`acknowledged by ${esc(a.acked_by)}${a.verdict ? ` (${esc(a.verdict)})` : ""}`);
  if (shelved) detail.push(`shelved by ${esc(a.shelved_by || "?")} until ${esc(when(a.shelved_until))}${a.underlying_state ? `, really ${esc(a.underlying_state)}` : ""}`);
  if (a.contributors && a.contributors.length) detail.push(`top signals: ${a.contributors.slice(0, 3).map((c) => esc(c.signal || c.name || c)).join(", ")}`);
  return `<tr data-alarm="${esc(a.id)}" data-priority="${esc(a.priority)}" data-state="${esc(a.state)}" data-sig="${esc(signature(a))}">
    <td><span class="priority" data-priority="${esc(a.priority)}">${PRIORITY_MARK[a.priority] || ""} ${esc(a.priority)}</span></td>
    <td class="alarm-text"><strong>${esc(a.id)}</strong>${a.asset ? ` · <a href="#/asset/${encodeURIComponent(a.asset)}">${esc(a.asset)}</a>` : ""}<br>
      <span class="message">${esc(a.message || "")}</span><span class="raised-inline muted"><br>raised ${esc(when(a.raised_at))}</span>${detail.length ? `<br><span class="muted">${detail.join(" · ")}</span>` : ""}</td>
    <td><span class="alarm-state state" data-state="${esc(a.state)}" title="${esc(STATE_TEXT[a.state] || a.state)}">${esc(a.state)}</span></td>
    <td class="when col-raised">${esc(when(a.raised_at))}</td>
    ${actions}
  </tr>`;
}

function historyRow(e) {
  const d = e.data || {};
  const what = e.kind.replace(/^alarm\./, "");
  const note = [d.verdict && `verdict ${d.verdict}`, d.comment, d.reason || d.shelve_reason, d.duration_s && `for ${dur(d.duration_s)}`]
    .filter(Boolean)
    .map(esc)
    .join(" · ");
  return `<tr><td class="when">${esc(when(e.ns))}</td><td>${esc(e.user || "werk")}</td><td>${esc(what)}</td><td>${esc(d.alarm_id || e.source)}</td><td>${note}</td></tr>`;
}
