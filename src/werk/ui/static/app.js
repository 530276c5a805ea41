// werk's dashboard: hash routes, who is signed in, the shared live feed, the views.
//
// Routes: #/ plant, #/asset/<id>, #/alarms, #/oee, #/plan, #/helping, #/login.
// Each view module exports `render(root, ctx, page, route)`; `page` carries an AbortSignal for
// the view's requests and `onLeave(fn)` for what to undo (live watches, timers) when the user
// navigates away.

import { api, clearNotice, notice, onUnauthorized, setToken, showError, token } from "./api.js";
import { Live } from "./live.js";
import { $, esc, throttle } from "./util.js";
import * as plantView from "./views/plant.js";
import * as assetView from "./views/asset.js";
import * as alarmsView from "./views/alarms.js";
import * as oeeView from "./views/oee.js";
import * as planView from "./views/plan.js";
import * as helpingView from "./views/helping.js";
import * as loginView from "./views/login.js";

const ROLES = ["viewer", "operator", "engineer", "admin"];
const VIEWS = {
  "": plantView,
  asset: assetView,
  alarms: alarmsView,
  oee: oeeView,
  plan: planView,
  helping: helpingView,
  login: loginView,
};
const PLANT_MAX_AGE_MS = 5000;

const ctx = {
  role: null, // "viewer" | "operator" | "engineer" | "admin" (anonymous reads count as viewer)
  name: null,
  anonymous: true,
  /** Does the user hold `role` or higher? (The API checks again; this only hides controls.) */
  can(role) {
    return ROLES.indexOf(this.role) >= ROLES.indexOf(role);
  },
  live: null,
  _plant: null,
  _plantAt: 0,
  _plantPending: null,
  /** GET /plant, shared by the views for a few seconds (one request per page load). */
  async plant({ fresh = false, signal } = {}) {
    if (!fresh && this._plant && performance.now() - this._plantAt < PLANT_MAX_AGE_MS) return this._plant;
    if (!this._plantPending) {
      this._plantPending = api("/plant", { signal })
        .then((body) => {
          this._plant = body;
          this._plantAt = performance.now();
          return body;
        })
        .finally(() => (this._plantPending = null));
    }
    return this._plantPending;
  },
  refreshWho: null,
};

// -- who is signed in --------------------------------------------------------------------------

async function refreshWho() {
  const badge = $("#whoami");
  try {
    const who = await api("/whoami", { quiet401: true });
    ctx.anonymous = !who.authenticated;
    ctx.role = who.authenticated ? who.role : "viewer";
    ctx.name = who.authenticated ? who.name : null;
    badge.textContent = who.authenticated ? `${who.role} · ${who.name}` : "viewer (anonymous) · sign in";
    badge.dataset.role = ctx.role;
    badge.title = who.authenticated ? "signed in with a token; click to sign out or change" : "reading anonymously; click to sign in with a token";
  } catch (error) {
    ctx.role = null;
    ctx.anonymous = true;
    badge.textContent = error.status === 401 ? "not signed in" : "unknown";
    badge.dataset.role = "";
    if (error.status === 401) {
      if (token()) {
        setToken(null); // unknown or revoked
        notice(`Sign in again: ${error.message}`);
      }
      if (!location.hash.startsWith("#/login")) location.hash = "#/login";
    } else {
      showError(error, "Who am I");
    }
  }
  document.body.dataset.role = ctx.role || "none";
}
ctx.refreshWho = refreshWho;

onUnauthorized((error) => {
  // A refused token is unknown or revoked: drop it, so reads fall back to anonymous where allowed.
  if (token()) {
    setToken(null);
    ctx.live?.restart();
  }
  ctx.role = null;
  ctx.anonymous = true;
  const badge = $("#whoami");
  badge.textContent = "not signed in";
  badge.dataset.role = "";
  document.body.dataset.role = "none";
  notice(`Sign in needed: ${error.message}`);
  if (!location.hash.startsWith("#/login")) {
    sessionStorage.setItem("werk.after-login", location.hash || "#/");
    location.hash = "#/login";
  }
});

// -- the alarm count in the navigation, kept fresh by alarm events -----------------------------

async function refreshAlarmCount() {
  const badge = $("#nav-alarms");
  try {
    const body = await api("/alarms", { params: { state: ["unack", "acked", "rtnunack"] }, quiet401: true });
    const unacked = body.alarms.filter((a) => a.state === "unack" || a.state === "rtnunack").length;
    badge.hidden = body.count === 0;
    badge.textContent = unacked ? `${unacked} new` : String(body.count);
    badge.classList.toggle("count-hot", unacked > 0);
    badge.title = `${body.count} alarms need attention, ${unacked} unacknowledged`;
  } catch {
    badge.hidden = true;
  }
}
const alarmCountSoon = throttle(refreshAlarmCount, 1000);

// -- routing -------------------------------------------------------------------------------------

let current = { controller: null, leave: [] };

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  const [name = "", ...rest] = path.split("/");
  return { name, param: rest.length ? decodeURIComponent(rest.join("/")) : null, query };
}

function leaveCurrent() {
  if (current.controller) current.controller.abort();
  for (const fn of current.leave) {
    try {
      fn();
    } catch (error) {
      console.error(error);
    }
  }
  current = { controller: null, leave: [] };
}

async function route() {
  leaveCurrent();
  const route = parseRoute();
  const view = VIEWS[route.name];
  const root = $("#view");
  document.querySelectorAll("[data-nav]").forEach((a) => {
    const active = a.dataset.nav === (route.name || "plant") || (route.name === "asset" && a.dataset.nav === "plant");
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (!view) {
    root.innerHTML = `<h1>Not found</h1><p>No view <code>${esc(location.hash)}</code>. <a href="#/">Back to the plant</a>.</p>`;
    return;
  }
  const controller = new AbortController();
  const page = {
    signal: controller.signal,
    onLeave: (fn) => current.leave.push(fn),
    get alive() {
      return !controller.signal.aborted;
    },
  };
  current.controller = controller;
  root.innerHTML = `<p class="loading" role="status">Loading…</p>`;
  root.dataset.view = route.name || "plant";
  try {
    await view.render(root, ctx, page, route);
  } catch (error) {
    if (error.name === "AbortError" || !page.alive) return;
    showError(error, "Loading this view");
    if (error.status !== 401) {
      root.innerHTML = `<h1>Could not load this view</h1><p class="empty">${esc(error.message)}</p>`;
    }
  }
}

// -- start ---------------------------------------------------------------------------------------

function start() {
  $("#notice .notice-close").addEventListener("click", clearNotice);
  const state = $("#live-state");
  ctx.live = new Live({
    onState: (kind, text) => {
      state.dataset.state = kind;
      state.textContent = text === "live" ? "● live" : text;
    },
    onUnauthorized: () => {
      if (!location.hash.startsWith("#/login")) location.hash = "#/login";
    },
  });
  ctx.live.watch({ events: true, onEvent: (e) => e.kind.startsWith("alarm.") && alarmCountSoon() });
  ctx.onSignedIn = async () => {
    await refreshWho();
    ctx.live.restart();
    refreshAlarmCount();
  };
  // "/" focuses the page's search (plant view), as in many web tools.
  document.addEventListener("keydown", (e) => {
    if (e.key !== "/" || e.target.closest("input, textarea, select")) return;
    const search = $("#plant-search");
    if (search) {
      e.preventDefault();
      search.focus();
    }
  });
  window.addEventListener("hashchange", route);
  // The role decides which controls a view draws: know it before the first view.
  refreshWho().finally(() => {
    route();
    ctx.live.start();
    refreshAlarmCount();
  });
}

start();
