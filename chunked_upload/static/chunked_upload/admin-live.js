// The upload-handler changelist refreshes its live cells (state, progress,
// rate, last activity, document) every few seconds while the page is shown.
// Plain script, no dependencies: the admin's own JavaScript is not needed.
"use strict";
(() => {
  const FIELDS = ["state_shown", "progress", "rate", "last_activity", "version_link"];

  function rows() {
    const found = new Map();
    for (const span of document.querySelectorAll("#result_list [data-handler-id]")) {
      found.set(span.dataset.handlerId, span.closest("tr"));
    }
    return found;
  }

  async function refresh(url, every) {
    const shown = rows();
    if (shown.size && !document.hidden) {
      const query = new URLSearchParams([...shown.keys()].map((id) => ["id", id]));
      try {
        const response = await fetch(`${url}?${query}`, {
          credentials: "same-origin", headers: { Accept: "application/json" },
        });
        if (response.ok) {
          const data = await response.json();
          every = (data.refresh || 3) * 1000;
          for (const [id, row] of shown) {
            const cells = data.rows[id];
            row.classList.toggle("cu-gone", !cells);
            if (!cells) continue;
            for (const field of FIELDS) {
              const cell = row.querySelector(`.field-${field}`);
              if (cell && field in cells && cell.innerHTML !== cells[field]) {
                cell.innerHTML = cells[field];
              }
            }
          }
          document.body.dataset.cuRefreshed = String(Date.now());
        }
      } catch {
        // Offline for a moment: try again at the next tick.
      }
    }
    setTimeout(() => refresh(url, every), every);
  }

  function start() {
    if (!document.querySelector("#result_list [data-handler-id]")) return;
    // The live view sits beside the changelist: <changelist>/live/.
    const url = new URL("live/", location.href.split("?")[0]).href;
    setTimeout(() => refresh(url, 3000), 3000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
