// #/login: sign in with an API token (kept for this browser tab only), or sign out.

import { api, notice, setToken, token } from "../api.js";
import { $, esc } from "../util.js";

export async function render(root, ctx) {
  const signedIn = Boolean(token());
  root.innerHTML = `
    <h1>Sign in</h1>
    <section class="panel login">
      <p>Paste an API token. <code>werk token create --role operator --name &lt;you&gt;</code> makes one;
      <code>werk demo</code> prints an operator and a viewer token at start.</p>
      <form id="login-form" autocomplete="off">
        <label for="login-token">Token</label>
        <input id="login-token" name="token" type="password" spellcheck="false" autocapitalize="off"
               placeholder="werk_…" required>
        <div class="actions">
          <button id="login-submit" type="submit" class="primary">Sign in</button>
          ${signedIn ? '<button id="logout" type="button">Sign out</button>' : ""}
        </div>
      </form>
      <p class="muted">Now: <strong>${esc(ctx.role ? (ctx.anonymous ? "viewer (anonymous)" : `${ctx.role} · ${ctx.name}`) : "not signed in")}</strong>.
      Viewers see values, alarms and plans; operators also acknowledge and shelve alarms and
      schedule orders; engineers mark changes.</p>
    </section>`;
  const input = $("#login-token", root);
  input.focus();
  $("#login-form", root).addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    const previous = token();
    setToken(value);
    try {
      const who = await api("/whoami", { quiet401: true });
      if (!who.authenticated) throw new Error("the token was not accepted");
    } catch (error) {
      setToken(previous);
      notice(`Sign in failed: ${error.message}`);
      input.select();
      return;
    }
    await ctx.onSignedIn();
    notice(`Signed in as ${ctx.name} (${ctx.role})`, "ok");
    const next = sessionStorage.getItem("werk.after-login") || "#/";
    sessionStorage.removeItem("werk.after-login");
    location.hash = next.startsWith("#/login") ? "#/" : next;
  });
  const logout = $("#logout", root);
  if (logout) {
    logout.addEventListener("click", async () => {
      setToken(null);
      await ctx.onSignedIn();
      notice("Signed out", "ok");
      location.hash = "#/";
    });
  }
}
