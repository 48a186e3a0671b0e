// triaged UI: the dead letters page's replay buttons, each a POST
// /api/v1/dead-letters/{id}/replay behind the write authentication.
"use strict";

(function () {
  async function replay(button) {
    const id = button.dataset.id;
    const out = button.parentElement.querySelector(".replay-result");
    button.disabled = true;
    out.className = "replay-result muted";
    out.textContent = "replaying…";
    try {
      const { status, json } = await window.triaged.write("/api/v1/dead-letters/" + encodeURIComponent(id) + "/replay", {});
      if (status === 200) {
        out.className = "replay-result ok";
        out.textContent = "replayed as " + json.replayed.stream + " #" + json.replayed.sequence;
        button.closest("tr").classList.add("replayed");
        return;
      }
      out.className = "replay-result error";
      out.textContent = "not replayed (" + status + "): " + (json.error || "");
      button.disabled = status === 404 || status === 422;
    } catch (e) {
      out.className = "replay-result error";
      out.textContent = e.message;
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const b of document.querySelectorAll("button.replay")) {
      b.addEventListener("click", () => replay(b));
    }
  });
})();
