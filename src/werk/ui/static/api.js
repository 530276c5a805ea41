// The API client: the token (sessionStorage), JSON requests with it, errors shown in #notice.

const TOKEN_KEY = "werk.token";
export const V1 = "/api/v1";

export class ApiError extends Error {
  constructor(status, body, url) {
    const detail = (body && (body.detail || body.error)) || `HTTP ${status}`;
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.body = body;
    this.url = url;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

const unauthorizedHandlers = new Set();

/** Called with the error whenever the API answers 401 (the app sends the user to #/login). */
export function onUnauthorized(handler) {
  unauthorizedHandlers.add(handler);
}

/**
 * A request to the API. `path` starts with "/" (absolute, e.g. "/api/v3.0/…") or is relative to
 * /api/v1. `params` values may be arrays (repeated keys). Returns parsed JSON (or text).
 * Throws ApiError; a 401 also notifies the unauthorized handlers.
 */
export async function api(path, { method = "GET", params, body, signal, quiet401 = false } = {}) {
  const url = new URL(path.startsWith("/api/") ? path : V1 + path, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, item);
  }
  const headers = { Accept: "application/json" };
  const current = token();
  if (current) headers.Authorization = `Bearer ${current}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { detail: `werk is not reachable (${error.message})` }, String(url));
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) {
    const error = new ApiError(response.status, typeof data === "object" ? data : { detail: data }, String(url));
    if (response.status === 401 && !quiet401) unauthorizedHandlers.forEach((h) => h(error));
    throw error;
  }
  return data;
}

/** Base64url without padding, as AAS Part 2 wants identifiers in paths. */
export function b64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  bytes.forEach((b) => (binary += String.fromCharCode(b)));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// -- the notice line: errors and confirmations, visible until dismissed or replaced -------------

let noticeTimer = null;

/** Show a message in #notice. kind: "error" | "ok" | "info". Errors stay until dismissed. */
export function notice(message, kind = "error") {
  const box = document.getElementById("notice");
  if (!box) return;
  clearTimeout(noticeTimer);
  box.className = `notice notice-${kind}`;
  box.hidden = false;
  box.querySelector(".notice-text").textContent = message;
  if (kind !== "error") noticeTimer = setTimeout(clearNotice, 6000);
}

export function clearNotice() {
  const box = document.getElementById("notice");
  if (box) box.hidden = true;
}

/** Show an API error in #notice, with what was being done. */
export function showError(error, doing) {
  if (error && error.name === "AbortError") return;
  if (error && error.status === 401 && unauthorizedHandlers.size) return; // already told: sign in
  const status = error && error.status ? ` (${error.status})` : "";
  notice(`${doing ? `${doing}: ` : ""}${error && error.message ? error.message : error}${status}`, "error");
}
