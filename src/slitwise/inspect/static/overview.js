/* slitwise inspect: overview page (row navigation, import, merge). */
"use strict";
(function () {
  const rows = Array.from(document.querySelectorAll("#sources tbody tr[data-href]"));
  let current = -1;
  function select(i) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, k) => r.classList.toggle("selected", k === current));
    rows[current].scrollIntoView({block: "nearest"});
  }
  rows.forEach((row, i) => {
    row.addEventListener("click", (e) => {
      if (e.target.tagName === "A") { return; }
      window.location.href = row.dataset.href;
    });
    row.addEventListener("mouseenter", () => { current = i; });
  });
  document.addEventListener("keydown", (e) => {
    if (SW.isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (e.key === "j" || e.key === "ArrowDown") { select(current + 1); e.preventDefault(); }
    else if (e.key === "k" || e.key === "ArrowUp") { select(current - 1); e.preventDefault(); }
    else if (e.key === "Enter" && current >= 0) { window.location.href = rows[current].dataset.href; }
    else if (e.key === "/") { document.getElementById("q").focus(); e.preventDefault(); }
    else if (e.key === "n") { const a = document.getElementById("next-page"); if (a) { a.click(); } }
    else if (e.key === "p") { const a = document.getElementById("prev-page"); if (a) { a.click(); } }
  });
  const file = document.getElementById("import-file");
  if (file) { file.addEventListener("change", () => { if (file.files.length) { document.getElementById("import-form").submit(); } }); }
  const merge = document.getElementById("merge-summary");
  const status = document.getElementById("action-status");
  if (merge) {
    merge.addEventListener("click", async () => {
      try {
        const res = await SW.postJSON("/api/merge-summary", {});
        status.textContent = "grades merged into " + res.file;
      } catch (err) { status.textContent = "merge failed: " + err.message; }
    });
  }
})();
