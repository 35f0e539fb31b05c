// 网上阅卷: the crop only; digits type the score, "." or H adds a half point (when the step is 0.5), Enter submits
// and shows the next crop at once (the tasks after it are fetched ahead and their crops loaded in advance),
// Backspace deletes, Esc clears. 问题卷 buttons send the answer to the leader; 回评 lists one's last scores.
"use strict";
(function () {
  const root = document.getElementById("marking");
  if (!root) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const setup = root.dataset.setup;
  const full = parseFloat(root.dataset.full);
  const half = parseFloat(root.dataset.step) === 0.5;
  const crop = document.getElementById("crop");
  const typed = document.getElementById("typed");
  const problem = document.getElementById("problem");
  const earlier = document.getElementById("earlier");
  const kinds = { first: "", self: "", third: "三评", ruling: "仲裁: 双评分差超过阈值, 请给出最终分" };
  let queue = [];
  let current = null;
  let buffer = "";
  let busy = false;
  let done = 0;
  const loaded = {};

  function image(task) { return "/marking/tasks/" + task.token + "/image"; }
  function ahead() {  // load the crops of the tasks after the current one now, so they show at once
    queue.slice(1).forEach(function (task) {
      if (!loaded[task.token]) { loaded[task.token] = new Image(); loaded[task.token].src = image(task); }
    });
  }
  function paint() { typed.textContent = buffer === "" ? "\u00a0" : buffer; }
  function show(task) {
    current = task;
    buffer = task && task.score !== null && task.score !== undefined ? String(task.score) : "";
    paint();
    problem.hidden = true;
    document.getElementById("empty").hidden = !!task;
    crop.hidden = !task;
    if (!task) { document.getElementById("task-kind").textContent = ""; earlier.hidden = true; return; }
    crop.src = image(task);
    crop.dataset.token = task.token;
    document.getElementById("task-kind").textContent = kinds[task.kind] || "";
    earlier.hidden = !(task.earlier && task.earlier.length);
    earlier.textContent = "已有评分: " + (task.earlier || []).join(", ");
    ahead();
  }
  async function call(url, options) {
    const response = await fetch(url, Object.assign({ credentials: "same-origin" }, options || {}));
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const detail = body && body.detail;
      const error = new Error(typeof detail === "string" ? detail : JSON.stringify(detail || response.status));
      error.status = response.status;
      throw error;
    }
    return body;
  }
  function post(url, payload) {
    return call(url, { method: "POST", body: JSON.stringify(payload),
                       headers: { "Content-Type": "application/json", "X-CSRF-Token": token } });
  }
  async function load() {
    queue = await call("/marking/" + setup + "/next");
    show(queue[0] || null);
  }
  async function send(path, payload) {
    if (!current || busy) return;
    busy = true;
    try {
      const answer = await post("/marking/tasks/" + current.token + "/" + path, payload);
      done += 1;
      document.getElementById("done").textContent = done;
      queue = answer.next;
      show(queue[0] || null);
    } catch (error) {
      problem.textContent = "未保存: " + error.message;
      problem.hidden = false;
      if (error.status === 409) {  // taken back (its lease ran out) or decided meanwhile: on to the next one
        await load().catch(function () {});
        problem.textContent = "此份已收回或已定分, 已换下一份";
        problem.hidden = false;
      }
    } finally {
      busy = false;
    }
  }
  function submit() {
    if (buffer === "") return;
    const value = parseFloat(buffer);
    if (!(value >= 0 && value <= full)) {
      problem.textContent = "分数应在 0 到 " + full + " 之间";
      problem.hidden = false;
      return;
    }
    send("score", { score: value });
  }
  document.addEventListener("keydown", function (event) {
    if (event.target.tagName === "INPUT" || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (/^[0-9]$/.test(key)) {
      const next = buffer.endsWith(".5") ? key : buffer + key;  // after a half point, a digit starts again
      if (parseFloat(next) <= full) buffer = next;
    } else if (half && (key === "." || key === "h" || key === "H")) {
      if (!buffer.endsWith(".5") && parseFloat(buffer || "0") + 0.5 <= full) buffer = (buffer || "0") + ".5";
    } else if (key === "Backspace") {
      buffer = buffer.endsWith(".5") ? buffer.slice(0, -2) : buffer.slice(0, -1);
    } else if (key === "Escape") {
      buffer = "";
    } else if (key === "Enter") {
      submit();
    } else {
      return;
    }
    event.preventDefault();
    paint();
  });
  root.querySelectorAll("button[data-problem]").forEach(function (button) {
    button.addEventListener("click", function () { send("problem", { kind: button.dataset.problem, note: "" }); });
  });
  document.getElementById("look-back").addEventListener("click", async function () {
    const list = document.getElementById("history");
    list.textContent = "";
    (await call("/marking/" + setup + "/history")).forEach(function (task) {
      const item = document.createElement("li");
      item.textContent = (task.problem ? "问题卷" : task.score + " 分");
      if (task.changeable) {
        const again = document.createElement("button");
        again.type = "button";
        again.textContent = "改分";
        again.addEventListener("click", function () { queue.unshift(task); show(task); });
        item.appendChild(again);
      }
      list.appendChild(item);
    });
  });
  load().catch(function (error) { problem.textContent = error.message; problem.hidden = false; });
})();
