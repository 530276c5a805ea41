// Small helpers shared by the views: escaping, number and time formats, DOM shortcuts.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe for innerHTML (content and attribute values). */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A value for a tile or a table: about four significant digits, no exponent for plant values. */
export function num(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e9 || size < 1e-4)) return value.toExponential(2);
  if (Number.isInteger(value) && size < 1e9) return value.toLocaleString("en-GB");
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(size || 1)));
  return value.toLocaleString("en-GB", { maximumFractionDigits: Math.min(decimals, 6) });
}

/** A share 0..1 as a percent ("—" when unknown). */
export function pct(share, decimals = 1) {
  if (share === null || share === undefined || Number.isNaN(share)) return "—";
  return `${(share * 100).toFixed(decimals)} %`;
}

/** A duration in seconds as "3 h 20 min" / "45 s". */
export function dur(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.abs(seconds);
  const sign = seconds < 0 ? "−" : "";
  if (s < 60) return `${sign}${num(s, 3)} s`;
  if (s < 3600) return `${sign}${Math.round(s / 60)} min`;
  if (s < 86400 * 2) {
    const h = Math.floor(s / 3600);
    const m = Math.round((s - h * 3600) / 60);
    return `${sign}${h} h${m ? ` ${m} min` : ""}`;
  }
  return `${sign}${num(s / 86400, 3)} d`;
}

/** ns since the epoch (number or string) or an ISO text -> Date. */
export function toDate(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return new Date(value / 1e6);
  return new Date(String(value).replace(/(\.\d{3})\d+/, "$1"));
}

/** A time of day in the browser's zone, with the date when it is not today. */
export function when(value) {
  const date = toDate(value);
  if (!date || Number.isNaN(date.getTime())) return "—";
  const time = date.toLocaleTimeString("en-GB", { hour12: false });
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return time;
  return `${date.toLocaleDateString("en-CA")} ${time}`;
}

/** ISO 8601 in UTC, as the API takes times. */
export function iso(ms) {
  return new Date(ms).toISOString();
}

/** Local midnight of today, as ISO (the start of "the current day" for OEE). */
export function startOfToday() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.toISOString();
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** Run `fn` at most once per `ms`, always with the newest arguments (trailing call kept). */
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  let pending = null;
  const run = () => {
    timer = null;
    last = performance.now();
    const args = pending;
    pending = null;
    fn(...args);
  };
  const throttled = (...args) => {
    pending = args;
    if (timer !== null) return;
    const wait = Math.max(0, last + ms - performance.now());
    timer = setTimeout(run, wait);
  };
  throttled.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return throttled;
}

/** Parse the query part of a route ("#/alarms?asset=x") into an object. */
export function routeQuery(query) {
  return Object.fromEntries(new URLSearchParams(query || ""));
}

/** A loading placeholder for a panel. */
export function loading(text = "Loading…") {
  return `<p class="loading" role="status">${esc(text)}</p>`;
}

/** An "empty / not available" line for a panel. */
export function empty(text) {
  return `<p class="empty">${esc(text)}</p>`;
}

const UNITS = { Cel: "°C", "[degF]": "°F", K: "K", "1": "", "%": "%", "/min": "/min" };

/** A UCUM unit code as people read it: Cel -> °C, {parts} -> parts, 1 -> nothing. */
export function unitText(code) {
  if (!code) return "";
  if (code in UNITS) return UNITS[code];
  return code.replace(/\{([^}]*)\}/g, "$1");
}
