// triaged UI: the calls of the pages that change or run something (explain, replay). With bearer
// tokens (--web.auth-token-file) the page asks for one once and keeps it in this tab's
// sessionStorage; otherwise the browser's own credentials (basic auth) go along. Every call is a
// same-origin fetch with a JSON body, which the daemon checks (cross-site requests are refused).
"use strict";

(function () {
  const KEY = "triaged.writeToken";
  let form = null;

  function bearer() {
    return document.querySelector("[data-write-auth=bearer]") !== null;
  }

  // tokenForm shows the form asking for the token, with why, at the top of the page.
  function tokenForm(why) {
    if (!form) {
      form = document.createElement("form");
      form.className = "panel token-form";
      form.id = "token-form";
      const label = document.createElement("label");
      label.htmlFor = "write-token";
      label.textContent = "Write token (a token of --web.auth-token-file; kept in this tab only)";
      const input = document.createElement("input");
      input.type = "password";
      input.id = "write-token";
      input.autocomplete = "off";
      input.size = 40;
      const button = document.createElement("button");
      button.type = "submit";
      button.textContent = "Use token";
      const msg = document.createElement("p");
      msg.className = "error";
      msg.id = "token-why";
      form.append(label, document.createElement("br"), input, " ", button, msg);
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const tok = input.value.trim();
        if (tok === "") {
          return;
        }
        sessionStorage.setItem(KEY, tok);
        input.value = "";
        form.hidden = true;
        document.dispatchEvent(new CustomEvent("triaged:token"));
      });
      const main = document.getElementById("main");
      main.insertBefore(form, main.querySelector("h1").nextSibling);
    }
    form.querySelector("#token-why").textContent = why || "";
    form.hidden = false;
    form.querySelector("#write-token").focus(); // what the page needs next, for the keyboard too
  }

  // write POSTs body as JSON to url, a path on this site (under the page's base), and resolves to {status, json}; a 401 asks for the token.
  async function write(url, body, signal) {
    const headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (bearer()) {
      const tok = sessionStorage.getItem(KEY);
      if (!tok) {
        tokenForm("");
        throw new Error("this needs a write token: give it above");
      }
      headers["Authorization"] = "Bearer " + tok;
    }
    const resp = await fetch(document.documentElement.dataset.base + url, {
      method: "POST", headers, body: JSON.stringify(body), signal,
      credentials: "same-origin", cache: "no-store",
    });
    if (resp.status === 401) {
      if (bearer()) {
        sessionStorage.removeItem(KEY);
        tokenForm("The token was refused: " + (await resp.text()).trim());
      }
      throw new Error("not authorized (401): " + (bearer() ? "give a valid write token above" : "the browser's credentials were refused"));
    }
    let json = null;
    const text = await resp.text();
    try {
      json = JSON.parse(text);
    } catch (e) {
      json = { status: "error", error: text.trim() || resp.statusText };
    }
    return { status: resp.status, json };
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (bearer() && !sessionStorage.getItem(KEY)) {
      tokenForm("");
    }
  });
  window.triaged = Object.assign(window.triaged || {}, { write });
})();
