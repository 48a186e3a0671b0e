// triaged UI: one live-updates stream for every tab of this browser. Each tab that follows the
// live updates holds a port to this shared worker, which holds the only EventSource on
// /ui/events and passes its events on. Over plain HTTP/1.1 a browser opens at most six
// connections to a host: with a stream per tab, a seventh tab would never load, and every
// open tab's refresh would queue behind the streams.
//
// The stream is opened again after it closed (a restart of the daemon answers 503 while it
// starts, which ends an EventSource for good), waiting 1 s, then twice as long each time, at
// most 30 s.
"use strict";

const ports = new Set();
let source = null;
let retry = null;
let delay = 1000;
let status = "connecting";

function broadcast(msg) {
  for (const port of ports) port.postMessage(msg);
}

function setStatus(s, extra) {
  status = s;
  broadcast(Object.assign({ type: "status", status: s }, extra || {}));
}

function connect() {
  retry = null;
  source = new EventSource("../ui/events"); // beside static/, under any prefix
  source.addEventListener("ready", () => {
    delay = 1000;
    setStatus("connected");
    broadcast({ type: "ready" });
  });
  for (const name of ["report", "link"]) {
    source.addEventListener(name, (msg) => broadcast({ type: name, data: msg.data }));
  }
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) {
      setStatus("reconnecting");
      return;
    }
    source.close();
    source = null;
    setStatus("retrying", { seconds: Math.round(delay / 1000) });
    retry = setTimeout(connect, delay);
    delay = Math.min(delay * 2, 30000);
  });
}

function stopWhenAlone() {
  if (ports.size > 0) return;
  if (source) { source.close(); source = null; }
  if (retry) { clearTimeout(retry); retry = null; }
  status = "connecting";
}

self.addEventListener("connect", (e) => {
  const port = e.ports[0];
  ports.add(port);
  port.addEventListener("message", (msg) => {
    if (msg.data && msg.data.type === "bye") {
      ports.delete(port);
      stopWhenAlone();
    }
  });
  port.start();
  if (!source && !retry) {
    connect();
  } else if (status === "connected") {
    port.postMessage({ type: "ready" });
  } else {
    port.postMessage({ type: "status", status: status });
  }
});
