// triaged UI: what every page does. Times are rendered in UTC by the server; this adds the
// browser's own zone beside each <time datetime=...>, so both are on screen.
"use strict";

(function () {
  const fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });

  // localTimes marks every <time datetime> below root with its local rendering.
  function localTimes(root) {
    for (const el of root.querySelectorAll("time[datetime]")) {
      const d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) {
        el.dataset.local = "(" + fmt.format(d) + ")";
      }
    }
  }

  window.triaged = { localTimes };
  document.addEventListener("DOMContentLoaded", () => localTimes(document));
})();
