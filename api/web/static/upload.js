// The station page: send the batch with the CSRF token in a header (checked before the upload is read), then
// follow the batch's reading on its page.
"use strict";
(function () {
  const form = document.getElementById("upload");
  if (!form) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("upload-status");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    status.textContent = "上传中…";
    const response = await fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-CSRF-Token": token, "Accept": "application/json" },
    });
    let body = {};
    try { body = await response.json(); } catch (e) { body = {}; }
    if (!response.ok) {
      status.textContent = "上传失败: " + (typeof body.detail === "string" ? body.detail : response.status);
      return;
    }
    window.location.assign("/station/batches/" + encodeURIComponent(body.id));
  });
})();
