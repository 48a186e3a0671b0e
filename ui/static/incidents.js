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
        const live = document.getElementById("live-state");
        const liveText = live ? live.textContent : "";
        const node = document.importNode(next, true);
        cur.replaceWith(node);
        state(liveText);
        document.title = doc.title;
        if (window.triaged && window.triaged.localTimes) window.triaged.localTimes(node);
        if (focused) {
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

  // live connects to the event stream; wants(event) says whether an event concerns this page.
  function live(wants, onEvent) {
    if (!window.EventSource) { state("live updates: not supported by this browser"); return; }
    const es = new EventSource("/ui/events");
    es.addEventListener("ready", () => {
      document.body.dataset.live = "connected";
      state("live updates: on");
      refresh(); // whatever happened between the page's rendering and now
    });
    es.addEventListener("report", (msg) => {
      let ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      if (onEvent) onEvent(ev);
      if (wants(ev)) refresh();
    });
    // A chat sink posted an incident's message: its link shows.
    es.addEventListener("link", (msg) => {
      let ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      if (wants(ev)) refresh();
    });
    es.addEventListener("error", () => {
      document.body.dataset.live = es.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
      state(es.readyState === EventSource.CLOSED ? "live updates: off (reload the page)" : "live updates: reconnecting…");
    });
    window.addEventListener("pagehide", () => es.close());
  }

  window.triaged = Object.assign(window.triaged || {}, { live, refresh });

  document.addEventListener("DOMContentLoaded", () => {
    if (!document.getElementById("incidents-summary")) return; // not the incidents page
    live(() => true, (ev) => { if (ev.title) document.title = ev.title; });
  });
})();
