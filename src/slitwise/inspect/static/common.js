/* slitwise inspect: small helpers shared by the pages (no dependencies). */
"use strict";
window.SW = (function () {
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  async function postJSON(url, body) {
    const resp = await fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrfToken(),
                "Accept": "application/json"},
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = {ok: false, error: resp.statusText}; }
    if (!resp.ok) { throw new Error(data && data.error ? data.error : ("HTTP " + resp.status)); }
    return data;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) { return "–"; }
    return Number(v).toFixed(digits === undefined ? 4 : digits);
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    if (attrs) { for (const k in attrs) { node.setAttribute(k, attrs[k]); } }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function isTyping(event) {
    const t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" ||
                 t.isContentEditable);
  }
  return {csrfToken, postJSON, fmt, el, isTyping};
})();
