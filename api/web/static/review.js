// The review page: click an option to toggle its letter, type letters or a score, Enter saves (the page's
// corrections go to the server with the CSRF token in a header) and loads the next sheet.
"use strict";
(function () {
  const form = document.getElementById("corrections");
  if (!form) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const problem = document.getElementById("problem");

  function letters(input) { return input.value.toUpperCase().replace(/[^A-Z]/g, ""); }
  function paint(fieldset) {
    const input = fieldset.querySelector("input.answer");
    const chosen = letters(input);
    fieldset.querySelectorAll("button.option").forEach(function (b) {
      b.classList.toggle("on", chosen.indexOf(b.dataset.letter) >= 0);
    });
  }
  form.querySelectorAll("fieldset.question").forEach(function (fieldset) {
    const input = fieldset.querySelector("input.answer");
    fieldset.querySelectorAll("button.option").forEach(function (button) {
      button.addEventListener("click", function () {
        const letter = button.dataset.letter;
        const chosen = letters(input);
        input.value = chosen.indexOf(letter) >= 0 ? chosen.replace(letter, "")
          : chosen.split("").concat([letter]).sort().join("");
        paint(fieldset);
        input.focus();
      });
    });
    input.addEventListener("input", function () { paint(fieldset); });
    paint(fieldset);
  });
  const first = form.querySelector("input.answer");
  if (first) first.focus();

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    problem.hidden = true;
    const response = await fetch(form.action, {
      method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
      headers: { "X-CSRF-Token": token, "Accept": "application/json" },
    });
    let body = {};
    try { body = await response.json(); } catch (e) { body = { detail: "服务器返回了无法读取的内容" }; }
    if (!response.ok) {
      problem.textContent = "未保存: " + (body.detail || response.status);
      problem.hidden = false;
      return;
    }
    if (body.resolved) {
      window.location.assign(body.next);
    } else {
      problem.textContent = "已保存, 但还有未处理的原因: " + body.uncovered.join("; ") +
        " (全部确认后勾选\"标记为已复核\")";
      problem.hidden = false;
    }
  });
})();
