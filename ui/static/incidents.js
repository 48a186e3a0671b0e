// triaged UI: live updates. The server streams a Server-Sent Event for every report
// (/ui/events); the page then fetches itself again and swaps the part the server rendered
// (#live-region), so rows are inserted and updated exactly as the server renders them, with
// the page's filters and paging, and nothing from an alert is ever put into the page as HTML
// by this script. The incidents page also takes its title, the open incidents per severity,
// from each event.
"use strict";

(function () {
  const state = (text) => {
    const el = document.getElementById("live-state");
    if (el) { el.textContent = text; el.parentElement.hidden = false; } // hidden without script: nothing is live then
  };

  // refresh fetches the page again and swaps its live region; calls made while one is under
  // way are folded into one more after it, at most one a second: during a storm of reports
  // every open page would otherwise ask for itself as fast as the server renders.
  const minInterval = 1000;
  let running = false, again = false, last = 0;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  async function refresh() {
    if (running) { again = true; return; }
    running = true;
    try {
      do {
        again = false;
        await sleep(Math.max(0, last + minInterval - Date.now()));
        last = Date.now();
        const resp = await fetch(location.href, { headers: { "Accept": "text/html" }, cache: "no-store" });
        if (!resp.ok && resp.status !== 400) break;
        const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
        const next = doc.getElementById("live-region");
        const cur = document.getElementById("live-region");
        if (!next || !cur) break;
        const focused = document.activeElement && document.activeElement.getAttribute("href");
        // What the reader opened or focused stays so: the n-th <details> open, the n-th
        // <summary> focused (a refresh comes with every report of the incident).
        const opened = [...cur.querySelectorAll("details")].map((d) => d.open);
        const summaries = [...cur.querySelectorAll("summary")];
        const focusedSummary = summaries.indexOf(document.activeElement);
        const live = document.getElementById("live-state");
        const liveText = live ? live.textContent : "";
        const node = document.importNode(next, true);
        cur.replaceWith(node);
        state(liveText);
        document.title = doc.title;
        if (window.triaged && window.triaged.localTimes) window.triaged.localTimes(node);
        node.querySelectorAll("details").forEach((d, i) => { if (opened[i]) d.open = true; });
        if (focusedSummary >= 0) {
          const s = node.querySelectorAll("summary")[focusedSummary];
          if (s) s.focus();
        } else if (focused) {
          for (const a of node.querySelectorAll("a[href]")) {
            if (a.getAttribute("href") === focused) { a.focus(); break; }
          }
        }
        document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
      } while (again);
    } catch (e) {
      state("live updates: reload failed, retrying with the next event");
    } finally {
      running = false;
    }
  }

  // live follows the event stream; wants(event) says whether an event concerns this page.
  // Every tab of the browser shares one stream through a shared worker (live-worker.js); a
  // browser without one gets a stream of its own. Either way a closed stream is opened again.
  function live(wants, onEvent) {
    const on = {
      ready() {
        document.body.dataset.live = "connected";
        state("live updates: on");
        refresh(); // whatever happened between the page's rendering, or the gap, and now
      },
      report(data) {
        let ev;
        try { ev = JSON.parse(data); } catch (e) { return; }
        if (onEvent) onEvent(ev);
        if (wants(ev)) refresh();
      },
      // A chat sink posted an incident's message: its link shows.
      link(data) {
        let ev;
        try { ev = JSON.parse(data); } catch (e) { return; }
        if (wants(ev)) refresh();
      },
      status(s, seconds) {
        if (s === "connected") return;
        document.body.dataset.live = s;
        state(s === "retrying" ? "live updates: lost, trying again in " + seconds + " s…"
          : s === "reconnecting" ? "live updates: reconnecting…" : "live updates: connecting…");
      },
    };
    if (window.SharedWorker) {
      try {
        const worker = new SharedWorker(document.documentElement.dataset.base + "/static/live-worker.js", { name: "triaged-live" });
        worker.port.onmessage = (msg) => {
          const m = msg.data || {};
          if (m.type === "ready") on.ready();
          else if (m.type === "report") on.report(m.data);
          else if (m.type === "link") on.link(m.data);
          else if (m.type === "status") on.status(m.status, m.seconds);
        };
        window.addEventListener("pagehide", () => worker.port.postMessage({ type: "bye" }));
        return;
      } catch (e) {
        // fall through to a stream of this tab's own
      }
    }
    if (!window.EventSource) { state("live updates: not supported by this browser"); return; }
    let delay = 1000;
    let es = null;
    const connect = () => {
      es = new EventSource(document.documentElement.dataset.base + "/ui/events");
      es.addEventListener("ready", () => { delay = 1000; on.ready(); });
      es.addEventListener("report", (msg) => on.report(msg.data));
      es.addEventListener("link", (msg) => on.link(msg.data));
      es.addEventListener("error", () => {
        if (es.readyState !== EventSource.CLOSED) { on.status("reconnecting"); return; }
        es.close();
        on.status("retrying", Math.round(delay / 1000));
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      });
    };
    connect();
    window.addEventListener("pagehide", () => es && es.close());
  }

  window.triaged = Object.assign(window.triaged || {}, { live, refresh });

  document.addEventListener("DOMContentLoaded", () => {
    if (!document.getElementById("incidents-summary")) return; // not the incidents page
    live(() => true, (ev) => { if (ev.title) document.title = ev.title; });
  });
})();
