// The batch page: ask the server every two seconds how far the reading has got, until the batch is done.
"use strict";
(function () {
  const section = document.getElementById("batch");
  if (!section) return;
  const names = { processing: "识别中", done: "完成" };
  async function poll() {
    const response = await fetch(section.dataset.statusUrl, { credentials: "same-origin",
                                                               headers: { "Accept": "application/json" } });
    if (!response.ok) return;
    const batch = await response.json();
    section.querySelectorAll("[data-field]").forEach(function (cell) {
      const field = cell.dataset.field;
      cell.textContent = field === "status" ? (names[batch.status] || batch.status) : batch.progress[field];
    });
    const bar = section.querySelector("progress");
    bar.max = batch.progress.files_received || 1;
    bar.value = batch.progress.jobs_done + batch.progress.jobs_failed;
    if (batch.status !== "done") window.setTimeout(poll, 2000);
  }
  window.setTimeout(poll, 1000);
})();
