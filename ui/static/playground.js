// triaged UI: the playground. It explains the alert or webhook typed in, with the rules in force
// or a candidate rule text, through POST /api/v1/rules/explain, a moment after each change.
// Everything shown comes from what was typed or from alerts: it is set as text, never as HTML.
"use strict";

(function () {
  const DEBOUNCE_MS = 300;
  let timer = null;
  let inflight = null;
  let seq = 0;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text !== undefined && text !== null) {
      e.textContent = String(text);
    }
    return e;
  }

  function sev(s) {
    const known = ["P1", "P2", "P3", "P4"].includes(s);
    return el("span", "sev " + (known ? "sev-" + s.toLowerCase() : "sev-none"), s || "—");
  }

  function status(text, cls) {
    const st = document.getElementById("pg-status");
    st.className = cls || "muted";
    st.textContent = text;
  }

  // request builds the explain request, or throws what is wrong with the input.
  function request() {
    const raw = document.getElementById("pg-alert").value;
    let doc;
    try {
      doc = JSON.parse(raw);
    } catch (e) {
      throw new Error("The alert is not valid JSON: " + e.message);
    }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
      throw new Error("Paste one alert (an object with \"labels\") or a webhook (an object with \"alerts\").");
    }
    const body = Array.isArray(doc.alerts) ? { webhook: doc } : { alert: doc };
    const now = document.getElementById("pg-now").value.trim();
    if (now !== "") {
      body.now = now;
    }
    if (document.getElementById("pg-all").checked) {
      body.all = true;
    }
    if (document.getElementById("pg-candidate").checked) {
      body.rules = document.getElementById("pg-rules").value;
    }
    return body;
  }

  function renderExplanation(x) {
    const box = el("article", "panel explanation");
    const h = el("h3");
    h.append("Alert " + x.alert + ": ", el("strong", null, x.alertname || "(no alertname)"), " (" + x.status + ") → ", sev(x.severity));
    box.append(h);
    const decided = el("p", "decided");
    decided.append("Decided by ", el("code", null, x.rule), ": " + (x.reason || ""));
    box.append(decided);
    const facts = el("p", "muted", "service " + (x.service || "—") + ", environment " + (x.environment || "—") + ", rule set " + x.rule_set_version);
    box.append(facts);
    if (x.decisions && x.decisions.length > 0) {
      const ul = el("ul", "decisions");
      for (const d of x.decisions) {
        const li = el("li");
        li.append(d.stage + ": ", el("code", null, d.rule), " → ", sev(d.severity), " " + (d.reason || ""));
        ul.append(li);
      }
      box.append(ul);
    }
    const table = el("table", "tried");
    table.setAttribute("aria-label", "Rules tried for alert " + x.alert);
    const head = el("tr");
    for (const c of ["Stage", "Rule", "Position", "Outcome", "Severity", "Why"]) {
      const th = el("th", null, c);
      th.scope = "col";
      head.append(th);
    }
    const thead = el("thead");
    thead.append(head);
    table.append(thead);
    const body = el("tbody");
    for (const t of x.tried || []) {
      const tr = el("tr", "outcome-" + t.outcome.replace(/ /g, "-") + (t.decided ? " decided-row" : ""));
      const outcome = el("td", null, t.outcome + (t.decided ? " · decided" : ""));
      tr.append(el("td", null, t.stage), el("td", null, t.rule), el("td"), outcome, el("td"), el("td", "why", t.reason));
      // The file's base name keeps the column narrow; the whole path is the title.
      const pos = el("code", null, t.pos.slice(t.pos.lastIndexOf("/") + 1));
      pos.title = t.pos;
      tr.children[2].append(pos);
      if (t.severity) {
        tr.children[4].append(sev(t.severity));
      }
      body.append(tr);
    }
    table.append(body);
    box.append(table);
    return box;
  }

  // jumpTo selects line:column of the rule text, so that a compile error's place is one click away.
  function jumpTo(line, column) {
    const ta = document.getElementById("pg-rules");
    const lines = ta.value.split("\n");
    let off = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) {
      off += lines[i].length + 1;
    }
    off += Math.max(0, column - 1);
    ta.focus();
    ta.setSelectionRange(off, off + 1);
  }

  function renderError(json) {
    const box = el("div", "panel pg-error");
    const problems = json.errors && json.errors.length > 0;
    // With its problems listed one by one, the summary need not repeat them all on one line.
    box.append(el("p", "error", problems ? "The candidate rule text does not compile (" + json.errors.length + (json.errors.length === 1 ? " problem):" : " problems):") : (json.error || "the request failed")));
    if (problems) {
      const ul = el("ul", "problems");
      for (const p of json.errors) {
        const li = el("li");
        const where = el("code", "pos", p.pos);
        if (p.line) {
          const b = el("button", "linkish", "line " + p.line + ", column " + p.column);
          b.type = "button";
          b.addEventListener("click", () => jumpTo(p.line, p.column));
          li.append(where, " ", b, ": ");
        } else {
          li.append(where, ": ");
        }
        li.append(el("span", "problem", (p.in ? p.in + ": " : "") + p.message));
        ul.append(li);
      }
      box.append(ul);
    }
    return box;
  }

  async function explain() {
    const result = document.getElementById("pg-result");
    let body;
    try {
      body = request();
    } catch (e) {
      status(e.message, "error");
      result.replaceChildren();
      return;
    }
    if (inflight) {
      inflight.abort();
    }
    inflight = new AbortController();
    const mine = ++seq;
    status("Explaining…");
    try {
      const { status: code, json } = await window.triaged.write("/api/v1/rules/explain", body, inflight.signal);
      if (mine !== seq) {
        return;
      }
      if (code !== 200) {
        status("Not explained (" + code + ")", "error");
        result.replaceChildren(renderError(json));
        return;
      }
      status("Explained with " + (json.rules === "candidate" ? "the candidate rules" : "the rules in force") + ", version " + json.rule_set_version + ", at " + json.evaluated_at + ".", "ok");
      const parts = [];
      if (json.warnings && json.warnings.length > 0) {
        const w = el("ul", "warnings");
        for (const s of json.warnings) {
          w.append(el("li", null, s));
        }
        parts.push(w);
      }
      for (const x of json.explanations) {
        parts.push(renderExplanation(x));
      }
      result.replaceChildren(...parts);
    } catch (e) {
      if (e.name === "AbortError" || mine !== seq) {
        return;
      }
      status(e.message, "error");
      result.replaceChildren();
    }
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(explain, DEBOUNCE_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const alert = document.getElementById("pg-alert");
    const rules = document.getElementById("pg-rules");
    alert.addEventListener("input", later);
    document.getElementById("pg-now").addEventListener("input", later);
    document.getElementById("pg-all").addEventListener("change", later);
    for (const r of document.querySelectorAll("input[name=pg-ruleset]")) {
      r.addEventListener("change", later);
    }
    rules.addEventListener("input", () => {
      document.getElementById("pg-candidate").checked = true;
      later();
    });
    const pick = document.getElementById("pg-pick");
    if (pick) {
      pick.addEventListener("change", () => {
        const opt = pick.selectedOptions[0];
        if (opt && opt.dataset.alert) {
          alert.value = JSON.stringify(JSON.parse(opt.dataset.alert), null, 2);
          later();
        }
      });
    }
    const file = document.getElementById("pg-file");
    if (file) {
      file.addEventListener("change", () => {
        rules.value = file.selectedOptions[0].dataset.text || "";
        document.getElementById("pg-candidate").checked = true;
        later();
      });
    }
    document.addEventListener("triaged:token", explain);
    explain();
  });
})();
