// The live feed: one WebSocket to /api/v1/live, shared by the views, reconnecting with backoff.
//
// A view asks for signals (and events) with `live.watch({signals, events, onSamples, onEvent})`
// and gets back a function that ends the watch. The socket subscribes to the union of what the
// watches want; messages are handed to the watches as they arrive (no extra delay: the server
// already batches at its own interval). The state ("live", "connecting", "reconnecting in 4 s",
// "signed out") is shown in #live-state.

import { token } from "./api.js";

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 15000;

export class Live {
  constructor({ onState, onUnauthorized } = {}) {
    this.watches = new Set();
    this.socket = null;
    this.backoff = MIN_BACKOFF_MS;
    this.retryTimer = null;
    this.countdown = null;
    this.onState = onState || (() => {});
    this.onUnauthorized = onUnauthorized || (() => {});
    this.sent = "";
    this.stopped = false;
    this.latest = new Map(); // signal -> newest row, so a new watch can draw at once
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  /** Drop the connection and open a new one now (after a login: the token changed). */
  restart() {
    this.stopped = false;
    this.backoff = MIN_BACKOFF_MS;
    clearTimeout(this.retryTimer);
    clearInterval(this.countdown);
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close();
      this.socket = null;
    }
    this.connect();
  }

  watch({ signals = [], events = false, onSamples = null, onEvent = null } = {}) {
    const entry = { signals: new Set(signals), events, onSamples, onEvent };
    this.watches.add(entry);
    this.resubscribe();
    return () => {
      this.watches.delete(entry);
      this.resubscribe();
    };
  }

  connect() {
    if (this.stopped) return;
    const url = new URL("/api/v1/live", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const current = token();
    if (current) url.searchParams.set("token", current);
    this.setState("connecting", "connecting…");
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    this.sent = "";
    socket.onopen = () => {
      this.backoff = MIN_BACKOFF_MS;
      this.setState("live", "live");
      this.resubscribe(true);
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (event) => {
      this.socket = null;
      if (event.code === 4401 || event.code === 4403) {
        this.setState("down", "signed out");
        this.onUnauthorized();
        return; // a new token restarts it
      }
      this.scheduleRetry();
    };
    socket.onerror = () => {}; // onclose follows and schedules the retry
  }

  scheduleRetry() {
    if (this.stopped) return;
    // Full jitter keeps many dashboards from reconnecting in step after a server restart.
    const wait = Math.round(this.backoff / 2 + Math.random() * (this.backoff / 2));
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    const due = performance.now() + wait;
    const show = () => {
      const left = Math.max(0, Math.ceil((due - performance.now()) / 1000));
      this.setState("down", `offline — retry in ${left} s`);
    };
    show();
    clearInterval(this.countdown);
    this.countdown = setInterval(show, 1000);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      clearInterval(this.countdown);
      this.connect();
    }, wait);
  }

  resubscribe(force = false) {
    const signals = new Set();
    let events = false;
    for (const w of this.watches) {
      w.signals.forEach((s) => signals.add(s));
      events = events || w.events;
    }
    const message = JSON.stringify({ subscribe: [...signals].sort(), events });
    if (!force && message === this.sent) return;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(message);
      this.sent = message;
    }
  }

  receive(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message.type === "samples" || message.type === "subscribed") {
      const rows = message.type === "samples" ? message.samples : message.snapshot || [];
      if (!rows.length) return;
      for (const row of rows) this.latest.set(row.signal, row);
      for (const w of this.watches) {
        if (!w.onSamples) continue;
        const mine = rows.filter((r) => w.signals.has(r.signal));
        if (mine.length) w.onSamples(mine, message.type === "subscribed");
      }
    } else if (message.type === "event") {
      for (const w of this.watches) if (w.events && w.onEvent) w.onEvent(message);
    } else if (message.type === "error") {
      console.warn("live feed:", message.detail || message.error);
    }
  }

  setState(kind, text) {
    this.state = kind;
    this.onState(kind, text);
  }
}
