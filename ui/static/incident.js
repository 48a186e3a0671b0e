// triaged UI: the incident page follows its incident live: a report of it (an update, the
// resolution) makes the page fetch itself again and swap its content (see incidents.js).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const region = document.getElementById("live-region");
  if (!region || !window.triaged || !window.triaged.live) return;
  const id = region.dataset.incident;
  window.triaged.live((ev) => ev.incident === id);
});
