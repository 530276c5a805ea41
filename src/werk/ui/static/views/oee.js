// #/oee: OEE per asset and shift (or day), ISO 22400, and the six big losses as a chart.

import { api, showError } from "../api.js";
import { legend, stackedBars } from "../charts.js";
import { $, dur, empty, esc, loading, num, pct, startOfToday, throttle } from "../util.js";

const LOSSES = [
  { key: "breakdowns_s", label: "breakdowns", color: "#b3261e" },
  { key: "setup_s", label: "setup and adjustments", color: "#8a3ffc" },
  { key: "small_stops_s", label: "small stops and idling", color: "#b34700" },
  { key: "reduced_speed_s", label: "reduced speed", color: "#6b5900" },
  { key: "process_defects_s", label: "process defects", color: "#0b5cad" },
  { key: "startup_yield_s", label: "start-up yield", color: "#006d77" },
];
const WINDOWS = { today: () => startOfToday(), "24h": () => "24h", "7d": () => "7d" };

export async function render(root, ctx, page) {
  root.innerHTML = `
    <div class="view-head"><h1>OEE and losses</h1>
      <p class="summary">Availability × performance × quality (ISO 22400) per asset; the six big losses in time lost.</p></div>
    <div class="toolbar">
      <label>Window <select id="oee-window"><option value="today">today</option><option value="24h" selected>last 24 h</option><option value="7d">last 7 days</option></select></label>
      <label>Per <select id="oee-by"><option value="shift" selected>shift</option><option value="day">day</option></select></label>
    </div>
    <div id="oee">${loading()}</div>`;
  const plant = await ctx.plant({ signal: page.signal });
  const assets = plant.assets.filter((a) => a.has_oee);
  const box = $("#oee", root);
  if (!assets.length) {
    box.innerHTML = empty("No asset has a state signal, so there is no OEE to show (the plant file's analytics.state_signal).");
    return;
  }
  const names = new Map(plant.assets.map((a) => [a.id, a.name]));
  let result = null;
  const draw = () => {
    if (!result) return;
    const width = Math.min(box.clientWidth || 800, 1100);
    const rows = result.assets.map((a) => ({
      label: names.get(a.asset) || a.asset,
      parts: LOSSES.map((l) => (a.total.losses ? a.total.losses[l.key] / 60 : 0)),
    }));
    const chart = $("#oee-losses", box);
    if (!chart) return;
    chart.innerHTML = stackedBars({ width, rows, keys: LOSSES, format: (v) => num(v, 3), unit: " min" });
  };
  const load = async () => {
    box.setAttribute("aria-busy", "true");
    try {
      result = await api("/oee", {
        params: { asset: assets.map((a) => a.id), by: $("#oee-by", root).value, start: WINDOWS[$("#oee-window", root).value]() },
        signal: page.signal,
      });
      const calendarText = (c) => {
        const shifts = c.shifts.map((s) => `${s.name} ${s.start}–${s.end}`).join(", ");
        const days = c.days && c.days.length < 7 ? ` on ${c.days.join(", ")}` : "";
        const source = c.source === "plant" ? ", from the plant file" : c.source === "default" ? ", the default" : "";
        return `${shifts}${days} (${c.timezone}${source})`;
      };
      const calendars = [...new Set(result.assets.map((a) => calendarText(a.calendar || result.calendar)))];
      box.innerHTML = `
        <section class="panel">
          <h2>Per asset and ${esc(result.by)}</h2>
          <div class="table-wrap"><table class="oee-table">
            <thead><tr><th scope="col">Asset</th><th scope="col">Period</th><th scope="col" class="num">OEE</th><th scope="col" class="num">Availability</th>
            <th scope="col" class="num">Performance</th><th scope="col" class="num">Quality</th><th scope="col" class="num">Good</th><th scope="col" class="num">Scrap</th>
            <th scope="col" class="num">MTBF</th><th scope="col" class="num">MTTR</th></tr></thead>
            <tbody>${result.assets.map((a) => assetRows(a, names.get(a.asset) || a.asset)).join("")}</tbody>
          </table></div>
          <p class="hint">Shifts: ${esc(calendars.join("; "))}. Totals in bold; periods without data are left out. Performance above 100 % means the ideal cycle time is set too long.</p>
        </section>
        <section class="panel">
          <h2>Six big losses, whole window</h2>
          ${legend(LOSSES)}
          <div id="oee-losses" class="chart-box"></div>
          <div class="table-wrap"><table class="losses-table">
            <thead><tr><th scope="col">Asset</th>${LOSSES.map((l) => `<th scope="col" class="num">${esc(l.label)}</th>`).join("")}</tr></thead>
            <tbody>${result.assets.map((a) => `<tr><th scope="row">${esc(names.get(a.asset) || a.asset)}</th>${LOSSES.map((l) => `<td class="num">${dur(a.total.losses?.[l.key])}</td>`).join("")}</tr>`).join("")}</tbody>
          </table></div>
        </section>`;
      draw();
    } catch (error) {
      if (!page.alive) return;
      box.innerHTML = empty(`Could not compute OEE: ${error.message}`);
      showError(error, "OEE");
    } finally {
      box.removeAttribute("aria-busy");
    }
  };
  $("#oee-window", root).addEventListener("change", load);
  $("#oee-by", root).addEventListener("change", load);
  const resize = new ResizeObserver(throttle(draw, 200));
  resize.observe(box);
  page.onLeave(() => resize.disconnect());
  await load();
}

function assetRows(a, name) {
  const line = (f, label, cls = "") => `<tr class="${cls}"><th scope="row">${cls ? esc(name) : ""}</th><td>${esc(label)}</td>
    <td class="num oee-value">${f.has_data ? pct(f.oee) : "—"}</td><td class="num">${f.has_data ? pct(f.availability) : "—"}</td>
    <td class="num">${f.has_data ? pct(f.performance) : "—"}</td><td class="num">${f.has_data ? pct(f.quality) : "—"}</td>
    <td class="num">${num(f.good)}</td><td class="num">${num(f.scrap)}</td><td class="num">${dur(f.mtbf_s)}</td><td class="num">${dur(f.mttr_s)}</td></tr>`;
  const periods = a.periods.filter((p) => p.has_data); // periods without data say nothing
  return line(a.total, "total", "total") + periods.map((p) => line(p, p.shift ? `${p.day || ""} ${p.shift}`.trim() : p.day || p.period)).join("");
}
