// #/plan: the plan in force as a Gantt chart (orders -> schedule), scheduling new orders
// (operators), and what-if scenarios of the line run side by side with confidence intervals.

import { api, notice, showError } from "../api.js";
import { PALETTE, gantt, intervals, legend } from "../charts.js";
import { $, empty, esc, loading, num, pct, throttle, when } from "../util.js";

const EXAMPLE_PROBLEM = {
  name: "two orders",
  machines: ["saw", "paint"],
  orders: [
    { id: "A", due: 30, operations: [{ id: "cut", machines: { saw: 10 } }, { id: "paint", machines: { paint: 5 } }] },
    { id: "B", operations: [{ id: "cut", machines: { saw: 7 } }] },
  ],
};
const LINE_KPIS = [
  ["throughput_per_h", "throughput / h", true],
  ["lead_time_s", "lead time, s", false],
  ["wip", "work in progress", false],
  ["scrap_per_h", "scrap / h", false],
];

export async function render(root, ctx, page) {
  const operator = ctx.can("operator");
  root.innerHTML = `
    <div class="view-head"><h1>Plan</h1><p class="summary" id="plan-summary"></p></div>
    <section class="panel">
      <h2>Schedule</h2>
      <div id="gantt" class="chart-box">${loading()}</div>
      <div id="plan-kpis"></div>
      <h3>On the floor</h3>
      <p class="hint">The plan in force run many times with processing times that vary (each machine keeps its planned sequence; nothing starts before its planned start): how much of the plan's promise survives.</p>
      <div class="actions">
        <label>Variation of times, % <input id="floor-cv" type="number" min="0" max="100" value="10"></label>
        <label>Runs <input id="floor-runs" type="number" min="2" max="1000" value="30"></label>
        <button type="button" id="floor-run">Simulate the plan</button>
      </div>
      <div id="floor" aria-live="polite"></div>
    </section>
    ${operator ? `
    <section class="panel">
      <details id="plan-solve">
        <summary><h2>Schedule orders</h2></summary>
        <p class="hint">A problem in werk's plan format as JSON (machines, orders, operations with the machines that can do them and how long they take; see docs/plan.md). The new schedule becomes the plan in force.</p>
        <label for="plan-problem">Problem</label>
        <textarea id="plan-problem" rows="10" spellcheck="false">${esc(JSON.stringify(EXAMPLE_PROBLEM, null, 2))}</textarea>
        <div class="actions">
          <label>Objective <select id="plan-objective"><option>makespan</option><option>tardiness</option><option>mix</option></select></label>
          <label>Time limit, s <input id="plan-limit" type="number" min="1" max="120" value="10"></label>
          <button type="button" id="plan-run" class="primary">Schedule</button>
          <span id="plan-progress" class="muted" aria-live="polite"></span>
        </div>
      </details>
    </section>` : ""}
    <section class="panel">
      <h2>What if?</h2>
      <div id="whatif">${loading()}</div>
    </section>`;

  const loadPlan = async () => {
    const box = $("#gantt", root);
    try {
      const plan = await api("/plan/schedule", { signal: page.signal });
      drawPlan(root, plan);
    } catch (error) {
      if (!page.alive) return;
      if (error.status === 404) {
        box.innerHTML = empty(`No plan in force yet.${operator ? " Schedule orders below." : " An operator schedules orders here."}`);
        $("#plan-kpis", root).innerHTML = "";
      } else {
        box.innerHTML = empty(`Could not load the plan: ${error.message}`);
        showError(error, "Plan");
      }
    }
  };
  let lastPlan = null;
  const drawPlan = (r, plan) => {
    lastPlan = plan;
    const box = $("#gantt", r);
    if (!box || !page.alive) return; // the user has moved on
    const s = plan.schedule;
    const rows = [...new Set(s.assignments.map((a) => a.machine))].sort();
    const timed = s.assignments.length && s.assignments[0].start_ns !== undefined;
    const bars = s.assignments.map((a) => ({
      row: a.machine,
      start: timed ? a.start_ns / 1e6 : a.start,
      end: timed ? a.end_ns / 1e6 : a.end,
      setup: timed ? 0 : a.setup,
      group: a.order,
      label: `${a.order} · ${a.operation}`,
      title: `order ${a.order}, operation ${a.operation} on ${a.machine}: ${timed ? `${when(a.start_ns)} – ${when(a.end_ns)}` : `${a.start} – ${a.end}`}${a.setup ? `, setup ${a.setup}` : ""}`,
    }));
    if (!bars.length) {
      box.innerHTML = empty("The plan in force has no operations.");
      return;
    }
    const chart = gantt({ width: box.clientWidth || 800, rows, bars, timeAxis: timed });
    box.innerHTML = chart.svg + legend(chart.groups.map((g) => ({ label: `order ${g.label}`, color: g.color })));
    const k = plan.kpis || {};
    $("#plan-summary", r).textContent = `${s.problem}: ${s.status} (${s.solver}), ${plan.reason || "solve"}; ${s.assignments.length} operations on ${rows.length} machines.`;
    $("#plan-kpis", r).innerHTML = `<dl class="facts inline">
      <div><dt>makespan</dt><dd>${num(k.makespan)}</dd></div>
      <div><dt>tardy orders</dt><dd>${num(k.tardy_orders)}</dd></div>
      <div><dt>on time</dt><dd>${pct(k.on_time_rate, 0)}</dd></div>
      <div><dt>mean flow time</dt><dd>${num(k.mean_flow_time)}</dd></div>
      <div><dt>setup time</dt><dd>${num(k.setup_time)}</dd></div>
      <div><dt>mean utilisation</dt><dd>${pct(k.mean_utilisation, 0)}</dd></div>
    </dl>`;
  };
  const redraw = throttle(() => lastPlan && drawPlan(root, lastPlan), 200);
  const resize = new ResizeObserver(redraw);
  resize.observe($("#gantt", root));

  if (operator) {
    $("#plan-run", root).addEventListener("click", async () => {
      const button = $("#plan-run", root);
      let problem;
      try {
        problem = JSON.parse($("#plan-problem", root).value);
      } catch (error) {
        notice(`The problem is not valid JSON: ${error.message}`);
        return;
      }
      button.disabled = true;
      $("#plan-progress", root).textContent = "scheduling…";
      try {
        const result = await api("/plan/solve", {
          method: "POST",
          body: { problem, objective: $("#plan-objective", root).value, time_limit_s: Number($("#plan-limit", root).value) || 10 },
        });
        notice(`Scheduled: ${result.schedule.status}, objective ${num(result.schedule.objective)}`, "ok");
        await loadPlan();
      } catch (error) {
        const issues = error.body && error.body.issues ? `: ${error.body.issues.map((i) => i.message || JSON.stringify(i)).join("; ")}` : "";
        showError({ ...error, message: `${error.message}${issues}` }, "Scheduling");
      } finally {
        button.disabled = false;
        $("#plan-progress", root).textContent = "";
      }
    });
  }
  $("#floor-run", root).addEventListener("click", () => onTheFloor(root, page));
  // A new plan (solved here, elsewhere, or repaired after a breakdown) arrives as an event.
  const stop = ctx.live.watch({
    events: true,
    onEvent: (e) => {
      if (e.kind === "plan.schedule") loadPlan();
      else if (e.kind === "plan.progress" && $("#plan-progress", root)) {
        $("#plan-progress", root).textContent = `solving… ${num(e.data.elapsed_s)} s, objective ${num(e.data.objective)}, bound ${num(e.data.bound)}`;
      }
    },
  });
  page.onLeave(() => {
    stop();
    resize.disconnect();
  });
  await Promise.all([loadPlan(), whatIf(root, ctx, page)]);
}

// -- the plan in force on the floor: replications with varying times (POST /plan/simulate) --------

const FLOOR_KPIS = [
  ["makespan", "makespan", num],
  ["total_weighted_tardiness", "weighted tardiness", num],
  ["tardy_orders", "tardy orders", num],
  ["on_time_rate", "on time", (v) => pct(v, 0)],
  ["mean_flow_time", "mean flow time", num],
];

async function onTheFloor(root, page) {
  const box = $("#floor", root);
  const button = $("#floor-run", root);
  const cv = Math.max(0, Number($("#floor-cv", root).value) || 0) / 100;
  const replications = Math.min(1000, Math.max(2, Math.round(Number($("#floor-runs", root).value) || 30)));
  button.disabled = true;
  box.innerHTML = loading();
  try {
    const r = await api("/plan/simulate", {
      method: "POST",
      body: { replications, variability: { duration_cv: cv } },
      signal: page.signal,
    });
    if (!page.alive) return;
    const rows = FLOOR_KPIS.filter(([key]) => r.kpis[key]).map(([key, label, fmt]) => {
      const k = r.kpis[key];
      return `<tr data-kpi="${key}"><th scope="row">${esc(label)}</th><td class="num">${fmt(k.plan)}</td><td class="num">${fmt(k.mean)}</td><td class="num">${fmt(k.low)} – ${fmt(k.high)}</td></tr>`;
    });
    const late = r.orders.filter((o) => o.p_late > 0).slice(0, 8);
    box.innerHTML = `<div class="table-wrap"><table id="floor-kpis">
        <thead><tr><th scope="col">${replications} runs, times ±${num(cv * 100)} %</th><th scope="col" class="num">plan</th><th scope="col" class="num">on the floor (mean)</th><th scope="col" class="num">95 % interval</th></tr></thead>
        <tbody>${rows.join("")}</tbody></table></div>
      ${late.length
        ? `<p>Orders most likely late: ${late.map((o) => `<strong>${esc(o.order)}</strong> ${pct(o.p_late, 0)}`).join(", ")}.</p>`
        : `<p class="muted">No order was late in any run.</p>`}`;
  } catch (error) {
    if (!page.alive) return;
    box.innerHTML = error.status === 404 ? empty("No plan in force to simulate yet.") : empty(`Could not simulate: ${esc(error.message)}`);
    if (error.status !== 404) showError(error, "Simulating the plan");
  } finally {
    button.disabled = false;
  }
}

// -- what-if: two scenarios of the line, replicated; B − A with confidence intervals ---------------

async function whatIf(root, ctx, page) {
  const box = $("#whatif", root);
  let offered;
  try {
    offered = (await api("/sim/scenarios", { signal: page.signal })).scenarios.filter((s) => s.valid);
  } catch (error) {
    if (!page.alive) return;
    box.innerHTML = empty(`The scenarios could not be read: ${error.message}`);
    return;
  }
  if (offered.length < 2) {
    box.innerHTML = empty("Put two or more scenario files (.toml, docs/simulation.md) in the folder of werk.toml's [sim] scenarios to compare them here.");
    return;
  }
  const options = offered.map((s) => `<option value="${esc(s.name)}">${esc(s.name)} — ${esc(s.description || s.title)}</option>`).join("");
  const canRun = ctx.can("engineer");
  box.innerHTML = `
    <p class="hint">Two scenarios of the line, run with the same random numbers per replication: each KPI of both with its 95 % confidence interval, and B − A with its own. A difference whose interval holds 0 may be noise.</p>
    <div class="whatif-inputs">
      <div><label for="whatif-a">A (reference)</label><select id="whatif-a">${options}</select></div>
      <div><label for="whatif-b">B (the change)</label><select id="whatif-b">${options}</select></div>
    </div>
    <div class="actions">
      <label>Replications <input id="whatif-n" type="number" min="2" max="200" value="10"></label>
      <button type="button" id="whatif-run" class="primary"${canRun ? "" : " disabled"}>Run both</button>
      ${canRun ? "" : '<span class="muted">Sign in as an engineer to run what-if experiments.</span>'}
    </div>
    <div id="whatif-results"></div>`;
  $("#whatif-b", box).selectedIndex = 1;
  $("#whatif-run", box).addEventListener("click", async () => {
    const out = $("#whatif-results", box);
    const button = $("#whatif-run", box);
    button.disabled = true;
    out.innerHTML = loading("Running the replications…");
    try {
      const result = await api("/sim/compare", {
        method: "POST",
        body: { a: $("#whatif-a", box).value, b: $("#whatif-b", box).value, replications: Number($("#whatif-n", box).value) || 10 },
        signal: page.signal,
      });
      out.innerHTML = whatIfResults(result, out.clientWidth || 800);
    } catch (error) {
      if (!page.alive) return;
      out.innerHTML = empty(`The experiment failed: ${error.message}`);
      showError(error, "What-if");
    } finally {
      button.disabled = false;
    }
  });
}

function whatIfResults(result, width) {
  const colors = [PALETTE[0], PALETTE[1]];
  const half = (e) => (Number.isFinite(e?.high) && Number.isFinite(e?.low) ? (e.high - e.low) / 2 : NaN);
  const rows = LINE_KPIS.filter(([k]) => result.line?.[k]).map(([k, label]) => ({
    label,
    items: [
      { name: "A", mean: result.line[k].a.mean, half: half(result.line[k].a), color: colors[0] },
      { name: "B", mean: result.line[k].b.mean, half: half(result.line[k].b), color: colors[1] },
    ],
  }));
  const diffs = (result.differences || []).map((d) => {
    const holdsZero = !(d.low > 0 || d.high < 0);
    return `<tr><th scope="row">${esc(d.kpi)}</th><td class="num">${num(d.a)}</td><td class="num">${num(d.b)}</td>
      <td class="num">${num(d.difference)}</td><td class="num">${Number.isFinite(d.low) ? `${num(d.low)} … ${num(d.high)}` : "—"}</td>
      <td class="num">${d.p_value === null || d.p_value === undefined ? "—" : num(d.p_value, 2)}</td>
      <td>${holdsZero ? "no clear difference" : "<strong>differs</strong>"}</td></tr>`;
  }).join("");
  return `
    <h3>${esc(result.a)} (A) and ${esc(result.b)} (B), ${result.replications} replications each</h3>
    ${legend([{ label: `A: ${result.titles?.a || result.a}`, color: colors[0] }, { label: `B: ${result.titles?.b || result.b}`, color: colors[1] }])}
    ${intervals({ width: Math.min(width, 1000), rows })}
    <div class="table-wrap"><table class="whatif-table">
      <thead><tr><th scope="col">KPI</th><th scope="col" class="num">A</th><th scope="col" class="num">B</th><th scope="col" class="num">B − A</th>
      <th scope="col" class="num">95 % CI of B − A</th><th scope="col" class="num">p</th><th scope="col">verdict</th></tr></thead>
      <tbody>${diffs}</tbody></table></div>`;
}
