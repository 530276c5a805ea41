// Charts as SVG drawn by our own code: time series (trend, SPC), stacked bars (losses),
// a Gantt chart (schedules) and intervals (what-if confidence intervals). Each function returns
// an SVG string sized to a width; the caller puts it into its container in one assignment.

import { esc, num } from "./util.js";

export const PALETTE = ["#0b5cad", "#b34700", "#1a7f37", "#8a3ffc", "#a3006b", "#006d77", "#6b5900", "#4d4d4d"];

/** Round "nice" tick values covering [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map(
  (s) => s * 1000,
);

function timeTicks(t0, t1, count = 6) {
  const raw = (t1 - t0) / count;
  const step = TIME_STEPS.find((s) => s >= raw) || raw;
  const offset = new Date(t0).getTimezoneOffset() * 60000; // ticks on local round times
  const ticks = [];
  for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1; t += step) ticks.push(t);
  return { ticks, step };
}

function timeLabel(ms, step) {
  const d = new Date(ms);
  if (step >= 86400000) return d.toLocaleDateString("en-GB", { day: "2-digit", month: "short" });
  const opts = { hour: "2-digit", minute: "2-digit", hour12: false };
  if (step < 60000) opts.second = "2-digit";
  return d.toLocaleTimeString("en-GB", opts);
}

/**
 * A time chart. series: [{points: [[ms, value], …], band: [[ms, lo, hi], …], color, label,
 * width, dots}], lines: [{y, label, color, dash}], markers: [{t, y, label}] (drawn as red
 * diamonds), x: [t0, t1] (default: the data), y: [lo, hi] (default: the data and lines).
 */
export function timeChart({ width, height = 260, series = [], lines = [], markers = [], x, y, unit = "" }) {
  const m = { top: 12, right: 16, bottom: 28, left: 64 };
  const w = Math.max(200, width) - m.left - m.right;
  const h = height - m.top - m.bottom;
  let t0 = Infinity, t1 = -Infinity, lo = Infinity, hi = -Infinity;
  for (const s of series) {
    for (const [t, v] of s.points || []) {
      if (t < t0) t0 = t;
      if (t > t1) t1 = t;
      if (v !== null && v < lo) lo = v;
      if (v !== null && v > hi) hi = v;
    }
    for (const [t, a, b] of s.band || []) {
      if (t < t0) t0 = t;
      if (t > t1) t1 = t;
      if (a !== null && a < lo) lo = a;
      if (b !== null && b > hi) hi = b;
    }
  }
  for (const l of lines) if (Number.isFinite(l.y)) { lo = Math.min(lo, l.y); hi = Math.max(hi, l.y); }
  if (x) [t0, t1] = x;
  if (y) [lo, hi] = y;
  if (!Number.isFinite(t0) || !Number.isFinite(lo)) {
    return `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="no data">
      <text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="chart-empty">no data in this window</text></svg>`;
  }
  if (t1 === t0) t1 = t0 + 1000;
  const yt = niceTicks(lo, hi, Math.max(3, Math.round(h / 50)));
  if (yt.length) { lo = Math.min(lo, yt[0]); hi = Math.max(hi, yt[yt.length - 1]); }
  if (hi === lo) hi = lo + 1;
  const sx = (t) => m.left + ((t - t0) / (t1 - t0)) * w;
  const sy = (v) => m.top + h - ((v - lo) / (hi - lo)) * h;
  const out = [];
  out.push(`<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" data-t0="${t0}" data-t1="${t1}" data-left="${m.left}" data-plot-width="${w}">`);
  out.push(`<g class="grid">`);
  for (const v of yt) {
    out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}"/>`);
    out.push(`<text class="tick" x="${m.left - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${esc(num(v))}</text>`);
  }
  const { ticks, step } = timeTicks(t0, t1, Math.max(2, Math.round(w / 110)));
  for (const t of ticks) {
    out.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${m.top}" y2="${m.top + h}"/>`);
    out.push(`<text class="tick" x="${sx(t).toFixed(1)}" y="${m.top + h + 18}" text-anchor="middle">${esc(timeLabel(t, step))}</text>`);
  }
  out.push(`</g>`);
  if (unit) out.push(`<text class="tick unit" x="4" y="${m.top + 10}">${esc(unit)}</text>`);
  out.push(`<clipPath id="clip-${width}-${height}"><rect x="${m.left}" y="${m.top}" width="${w}" height="${h}"/></clipPath>`);
  out.push(`<g clip-path="url(#clip-${width}-${height})">`);
  series.forEach((s, i) => {
    const color = s.color || PALETTE[i % PALETTE.length];
    if (s.band && s.band.length) {
      const top = s.band.filter((b) => b[2] !== null).map(([t, , b]) => `${sx(t).toFixed(1)},${sy(b).toFixed(1)}`);
      const bottom = s.band.filter((b) => b[1] !== null).map(([t, a]) => `${sx(t).toFixed(1)},${sy(a).toFixed(1)}`).reverse();
      out.push(`<polygon class="band" fill="${color}" points="${top.concat(bottom).join(" ")}"/>`);
    }
    if (s.points && s.points.length) {
      // A gap in the data (far longer than the usual step) is drawn as a gap, not a slope.
      const n = s.points.length;
      const gap = n > 2 ? ((s.points[n - 1][0] - s.points[0][0]) / (n - 1)) * 20 : Infinity;
      let d = "";
      let pen = "M";
      let previous = -Infinity;
      for (const [t, v] of s.points) {
        if (t - previous > gap) pen = "M";
        previous = t;
        if (v === null || !Number.isFinite(v)) { pen = "M"; continue; }
        d += `${pen}${sx(t).toFixed(1)},${sy(v).toFixed(1)}`;
        pen = "L";
      }
      out.push(`<path class="series" stroke="${color}" stroke-width="${s.width || 2}" d="${d}"/>`);
      if (s.dots && s.points.length <= 400) {
        for (const [t, v] of s.points) if (v !== null) out.push(`<circle cx="${sx(t).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="2.5" fill="${color}"/>`);
      }
    }
  });
  for (const l of lines) {
    if (!Number.isFinite(l.y)) continue;
    out.push(`<line class="limit" x1="${m.left}" x2="${m.left + w}" y1="${sy(l.y).toFixed(1)}" y2="${sy(l.y).toFixed(1)}" stroke="${l.color || "#333"}" ${l.dash ? 'stroke-dasharray="6 4"' : ""}/>`);
  }
  for (const k of markers) {
    const cx = sx(k.t), cy = sy(k.y);
    out.push(`<path class="violation" d="M${cx.toFixed(1)},${(cy - 4.5).toFixed(1)} l4.5,4.5 l-4.5,4.5 l-4.5,-4.5z"><title>${esc(k.label || "")}</title></path>`);
  }
  out.push(`</g>`);
  for (const l of lines) {
    if (!Number.isFinite(l.y) || !l.label) continue;
    out.push(`<text class="limit-label" x="${m.left + w - 4}" y="${(sy(l.y) - 4).toFixed(1)}" text-anchor="end">${esc(l.label)}</text>`);
  }
  out.push(`<rect class="brush" x="0" y="${m.top}" width="0" height="${h}" visibility="hidden"/>`);
  out.push(`</svg>`);
  return out.join("");
}

/**
 * Drag across a time chart to choose a window: onSelect(t0, t1) in ms. Mouse, pen and touch
 * (pointer events). Returns nothing; the listeners live as long as the container.
 */
export function enableBrush(container, onSelect) {
  let start = null;
  const geometry = () => {
    const svg = container.querySelector("svg.chart");
    if (!svg || !svg.dataset.t0) return null;
    const box = svg.getBoundingClientRect();
    const scale = box.width / svg.viewBox.baseVal.width;
    return {
      svg,
      box,
      scale,
      left: +svg.dataset.left,
      width: +svg.dataset.plotWidth,
      t0: +svg.dataset.t0,
      t1: +svg.dataset.t1,
    };
  };
  const xAt = (g, clientX) => Math.min(g.left + g.width, Math.max(g.left, (clientX - g.box.left) / g.scale));
  container.addEventListener("pointerdown", (e) => {
    const g = geometry();
    if (!g || e.button > 0) return;
    start = { g, x: xAt(g, e.clientX) };
    container.setPointerCapture(e.pointerId);
  });
  container.addEventListener("pointermove", (e) => {
    if (!start) return;
    const x = xAt(start.g, e.clientX);
    const rect = start.g.svg.querySelector(".brush");
    rect.setAttribute("x", Math.min(x, start.x));
    rect.setAttribute("width", Math.abs(x - start.x));
    rect.setAttribute("visibility", "visible");
  });
  const finish = (e) => {
    if (!start) return;
    const { g } = start;
    const x = xAt(g, e.clientX);
    const a = Math.min(x, start.x), b = Math.max(x, start.x);
    start = null;
    const rect = g.svg.querySelector(".brush");
    if (rect) rect.setAttribute("visibility", "hidden");
    if (b - a < 8) return; // a click, not a drag
    const t = (px) => g.t0 + ((px - g.left) / g.width) * (g.t1 - g.t0);
    onSelect(t(a), t(b));
  };
  container.addEventListener("pointerup", finish);
  container.addEventListener("pointercancel", () => (start = null));
}

/**
 * Horizontal stacked bars: rows [{label, parts: [value…]}], keys [{label, color}].
 * Values are non-negative (negative ones are drawn as zero); `format` labels the totals.
 */
export function stackedBars({ width, rows, keys, format = num, unit = "" }) {
  const rowH = 34, m = { top: 8, right: 90, bottom: 8, left: 120 };
  const height = m.top + m.bottom + rows.length * rowH;
  const w = Math.max(120, width - m.left - m.right);
  const max = Math.max(1e-9, ...rows.map((r) => r.parts.reduce((a, v) => a + Math.max(0, v || 0), 0)));
  const out = [`<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">`];
  rows.forEach((r, i) => {
    const yy = m.top + i * rowH;
    out.push(`<text class="bar-label" x="${m.left - 8}" y="${yy + rowH / 2 + 5}" text-anchor="end">${esc(r.label)}</text>`);
    let x = m.left;
    let total = 0;
    r.parts.forEach((v, k) => {
      const value = Math.max(0, v || 0);
      total += value;
      const bw = (value / max) * w;
      if (bw > 0.2) {
        out.push(`<rect x="${x.toFixed(1)}" y="${yy + 5}" width="${bw.toFixed(1)}" height="${rowH - 10}" fill="${keys[k].color}"><title>${esc(`${r.label}: ${keys[k].label} ${format(value)}${unit}`)}</title></rect>`);
      }
      x += bw;
    });
    out.push(`<text class="bar-total" x="${(x + 6).toFixed(1)}" y="${yy + rowH / 2 + 5}">${esc(format(total))}${esc(unit)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("");
}

/** A legend as HTML: colour swatch and text (colour is never the only cue). */
export function legend(keys) {
  return `<ul class="legend">${keys.map((k) => `<li><span class="swatch" style="background:${k.color}"></span>${esc(k.label)}</li>`).join("")}</ul>`;
}

/**
 * A Gantt chart: rows (machines) of bars [{row, start, end, label, group, setup, title}],
 * time in the schedule's units (or ms when `timeAxis`), one colour per group (order).
 */
export function gantt({ width, rows, bars, timeAxis = false, unitLabel = "" }) {
  const rowH = 40, m = { top: 26, right: 16, bottom: 10, left: 110 };
  const height = m.top + m.bottom + rows.length * rowH;
  const w = Math.max(200, width - m.left - m.right);
  const first = Math.min(...bars.map((b) => b.start - (b.setup || 0)));
  const t0 = timeAxis ? first : Math.min(0, first);
  const t1 = Math.max(...bars.map((b) => b.end), t0 + 1);
  const sx = (t) => m.left + ((t - t0) / (t1 - t0)) * w;
  const groups = [...new Set(bars.map((b) => b.group))];
  const color = (g) => PALETTE[groups.indexOf(g) % PALETTE.length];
  const out = [`<svg class="chart gantt-chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">`];
  out.push(`<defs><pattern id="setup-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#555" stroke-width="2"/></pattern></defs>`);
  out.push(`<g class="grid">`);
  if (timeAxis) {
    const { ticks, step } = timeTicks(t0, t1, Math.max(2, Math.round(w / 110)));
    for (const t of ticks) {
      out.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${m.top - 4}" y2="${height - m.bottom}"/>`);
      out.push(`<text class="tick" x="${sx(t).toFixed(1)}" y="${m.top - 10}" text-anchor="middle">${esc(timeLabel(t, step))}</text>`);
    }
  } else {
    for (const t of niceTicks(t0, t1, Math.max(2, Math.round(w / 90)))) {
      out.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${m.top - 4}" y2="${height - m.bottom}"/>`);
      out.push(`<text class="tick" x="${sx(t).toFixed(1)}" y="${m.top - 10}" text-anchor="middle">${esc(num(t))}${esc(unitLabel)}</text>`);
    }
  }
  out.push(`</g>`);
  rows.forEach((r, i) => {
    const yy = m.top + i * rowH;
    out.push(`<text class="bar-label" x="${m.left - 8}" y="${yy + rowH / 2 + 5}" text-anchor="end">${esc(r)}</text>`);
    out.push(`<line class="row-line" x1="${m.left}" x2="${m.left + w}" y1="${yy + rowH}" y2="${yy + rowH}"/>`);
  });
  for (const b of bars) {
    const i = rows.indexOf(b.row);
    const yy = m.top + i * rowH + 5;
    if (b.setup) {
      out.push(`<rect x="${sx(b.start - b.setup).toFixed(1)}" y="${yy}" width="${(sx(b.start) - sx(b.start - b.setup)).toFixed(1)}" height="${rowH - 10}" fill="url(#setup-hatch)" stroke="#555"><title>setup ${esc(num(b.setup))}</title></rect>`);
    }
    const x = sx(b.start), bw = Math.max(1, sx(b.end) - x);
    out.push(`<g class="gantt-bar"><rect x="${x.toFixed(1)}" y="${yy}" width="${bw.toFixed(1)}" height="${rowH - 10}" rx="3" fill="${color(b.group)}"/>`);
    if (bw > 34) {
      out.push(`<text x="${(x + 5).toFixed(1)}" y="${yy + (rowH - 10) / 2}" class="bar-text">${esc(b.label).slice(0, Math.floor(bw / 8))}</text>`);
    }
    out.push(`<title>${esc(b.title || b.label)}</title></g>`);
  }
  out.push(`</svg>`);
  return { svg: out.join(""), groups: groups.map((g) => ({ label: g, color: color(g) })) };
}

/**
 * Means with confidence intervals side by side: rows [{label, items: [{name, mean, half, color}]}],
 * one small scale per row (KPIs have different units).
 */
export function intervals({ width, rows }) {
  const rowH = 22, gap = 14, m = { left: 170, right: 110 };
  const w = Math.max(120, width - m.left - m.right);
  let y = 6;
  const out = [];
  for (const r of rows) {
    const valid = r.items.filter((it) => Number.isFinite(it.mean));
    const lows = valid.map((it) => it.mean - (Number.isFinite(it.half) ? it.half : 0));
    const highs = valid.map((it) => it.mean + (Number.isFinite(it.half) ? it.half : 0));
    let lo = Math.min(...lows), hi = Math.max(...highs);
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
    lo -= pad; hi += pad;
    const sx = (v) => m.left + ((v - lo) / (hi - lo)) * w;
    out.push(`<text class="bar-label" x="${m.left - 8}" y="${y + 14}" text-anchor="end">${esc(r.label)}</text>`);
    r.items.forEach((it, k) => {
      const cy = y + 8 + k * rowH;
      if (!Number.isFinite(it.mean)) return;
      const half = Number.isFinite(it.half) ? it.half : 0;
      out.push(`<line x1="${sx(it.mean - half).toFixed(1)}" x2="${sx(it.mean + half).toFixed(1)}" y1="${cy}" y2="${cy}" stroke="${it.color}" stroke-width="3"/>`);
      out.push(`<line x1="${sx(it.mean - half).toFixed(1)}" x2="${sx(it.mean - half).toFixed(1)}" y1="${cy - 6}" y2="${cy + 6}" stroke="${it.color}" stroke-width="2"/>`);
      out.push(`<line x1="${sx(it.mean + half).toFixed(1)}" x2="${sx(it.mean + half).toFixed(1)}" y1="${cy - 6}" y2="${cy + 6}" stroke="${it.color}" stroke-width="2"/>`);
      out.push(`<circle cx="${sx(it.mean).toFixed(1)}" cy="${cy}" r="5" fill="${it.color}"/>`);
      out.push(`<text class="tick" x="${m.left + w + 8}" y="${cy + 4}">${esc(it.name)} ${esc(num(it.mean))}${half ? ` ± ${esc(num(half, 2))}` : ""}</text>`);
    });
    y += r.items.length * rowH + gap;
  }
  return `<svg class="chart" viewBox="0 0 ${width} ${y}" width="${width}" height="${y}" role="img">${out.join("")}</svg>`;
}
