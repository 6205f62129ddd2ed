/* slitwise inspect: a small interactive canvas plot (zoom, pan, layers). No dependencies.
 *
 * const plot = new SWPlot(canvas, {xlabel: "λ [µm]", ylabel: "f_ν [µJy]"});
 * plot.setLayers([{type: "band", x, lo, hi, color}, {type: "line", x, y, color, step: true},
 *                 {type: "vline", x: 2.1, color: "red", dash: [4, 2]}]);
 * plot.onView((view) => ...);   // called after every zoom / pan / reset
 *
 * Mouse: wheel zooms x around the cursor (shift+wheel zooms y), drag pans, double-click
 * resets. Missing values (null) break lines and bands.
 */
"use strict";
class SWPlot {
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.opts = Object.assign({xlabel: "", ylabel: "", margin: {l: 64, r: 14, t: 10, b: 34},
                               autoY: true, clickable: false}, opts || {});
    this.layers = [];
    this.listeners = [];
    this.clickListeners = [];
    this.view = {x0: 0, x1: 1, y0: 0, y1: 1};
    this.home = null;
    this.yLocked = false;
    this._drag = null;
    this._bind();
    this._resize();
    window.addEventListener("resize", () => { this._resize(); this.draw(); });
  }

  get margin() { return this.opts.margin; }
  get width() { return this.canvas.clientWidth || this.canvas.width; }
  get height() { return this.canvas.clientHeight || this.canvas.height; }

  _resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.width, h = this.height;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  xToPx(x) {
    const m = this.margin, v = this.view;
    return m.l + (x - v.x0) / (v.x1 - v.x0) * (this.width - m.l - m.r);
  }
  pxToX(px) {
    const m = this.margin, v = this.view;
    return v.x0 + (px - m.l) / (this.width - m.l - m.r) * (v.x1 - v.x0);
  }
  yToPx(y) {
    const m = this.margin, v = this.view;
    return this.height - m.b - (y - v.y0) / (v.y1 - v.y0) * (this.height - m.t - m.b);
  }
  pxToY(py) {
    const m = this.margin, v = this.view;
    return v.y0 + (this.height - m.b - py) / (this.height - m.t - m.b) * (v.y1 - v.y0);
  }

  setLayers(layers, keepView) {
    this.layers = layers;
    const ext = this._extent(null);
    this.home = ext;
    if (!keepView) { this.view = Object.assign({}, ext); this.yLocked = false; }
    this.draw();
  }

  _extent(xrange) {
    let x0 = Infinity, x1 = -Infinity;
    const ys = [];
    for (const L of this.layers) {
      if (L.hidden || !L.x || L.noExtent) { continue; }
      for (let i = 0; i < L.x.length; i++) {
        const x = L.x[i];
        if (x === null) { continue; }
        if (!xrange) { if (x < x0) { x0 = x; } if (x > x1) { x1 = x; } }
        if (xrange && (x < xrange[0] || x > xrange[1])) { continue; }
        const vals = L.type === "band" ? [L.lo[i], L.hi[i]] : [L.y[i]];
        for (const y of vals) { if (y !== null && isFinite(y)) { ys.push(y); } }
      }
    }
    if (xrange) { x0 = xrange[0]; x1 = xrange[1]; }
    if (!isFinite(x0) || !isFinite(x1) || x0 === x1) { x0 = 0; x1 = 1; }
    let y0 = 0, y1 = 1;
    if (ys.length) {
      ys.sort((a, b) => a - b);
      const q = (p) => ys[Math.min(ys.length - 1, Math.max(0, Math.round(p * (ys.length - 1))))];
      y0 = this.opts.yMinZero ? 0 : q(0.005);
      y1 = q(0.995);
      if (this.opts.yMinZero) { y0 = Math.min(0, q(0)); y1 = q(1); }
      const pad = (y1 - y0) * 0.08 || 1;
      y0 -= pad; y1 += pad;
    }
    return {x0, x1, y0, y1};
  }

  setView(v, silent) {
    this.view = Object.assign({}, this.view, v);
    this.draw();
    if (!silent) { this.listeners.forEach((cb) => cb(this.view)); }
  }

  setXRange(x0, x1) {
    const v = {x0, x1};
    if (this.opts.autoY && !this.yLocked) {
      const e = this._extent([x0, x1]);
      v.y0 = e.y0; v.y1 = e.y1;
    }
    this.setView(v);
  }

  reset() { this.yLocked = false; if (this.home) { this.setView(this.home); } }
  onView(cb) { this.listeners.push(cb); }
  onClick(cb) { this.clickListeners.push(cb); }

  _bind() {
    const c = this.canvas;
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const rect = c.getBoundingClientRect();
      const f = Math.exp(Math.sign(e.deltaY) * 0.15);
      if (e.shiftKey) {
        const y = this.pxToY(e.clientY - rect.top);
        this.yLocked = true;
        this.setView({y0: y - (y - this.view.y0) * f, y1: y + (this.view.y1 - y) * f});
      } else {
        const x = this.pxToX(e.clientX - rect.left);
        this.setXRange(x - (x - this.view.x0) * f, x + (this.view.x1 - x) * f);
      }
    }, {passive: false});
    c.addEventListener("mousedown", (e) => {
      const rect = c.getBoundingClientRect();
      this._drag = {px: e.clientX - rect.left, py: e.clientY - rect.top,
                    view: Object.assign({}, this.view), moved: false};
    });
    window.addEventListener("mousemove", (e) => {
      if (!this._drag) { return; }
      const rect = c.getBoundingClientRect();
      const dx = e.clientX - rect.left - this._drag.px, dy = e.clientY - rect.top - this._drag.py;
      if (Math.abs(dx) + Math.abs(dy) > 3) { this._drag.moved = true; }
      if (!this._drag.moved) { return; }
      const v = this._drag.view, m = this.margin;
      const sx = (v.x1 - v.x0) / (this.width - m.l - m.r);
      const sy = (v.y1 - v.y0) / (this.height - m.t - m.b);
      if (Math.abs(dy) > 3) { this.yLocked = true; }
      this.setView({x0: v.x0 - dx * sx, x1: v.x1 - dx * sx, y0: v.y0 + dy * sy, y1: v.y1 + dy * sy});
    });
    window.addEventListener("mouseup", (e) => {
      if (!this._drag) { return; }
      const moved = this._drag.moved;
      this._drag = null;
      if (!moved) {
        const rect = c.getBoundingClientRect();
        const x = this.pxToX(e.clientX - rect.left);
        if (e.target === c) { this.clickListeners.forEach((cb) => cb(x, e)); }
      }
    });
    c.addEventListener("dblclick", () => this.reset());
  }

  _ticks(a, b, n) {
    const span = b - a;
    if (!(span > 0)) { return []; }
    const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) || 10 * mag;
    const out = [];
    for (let t = Math.ceil(a / step) * step; t <= b + step * 1e-9; t += step) { out.push(+t.toPrecision(12)); }
    return out;
  }

  _path(L, getY) {
    const ctx = this.ctx;
    let pen = false;
    for (let i = 0; i < L.x.length; i++) {
      const y = getY(i);
      if (L.x[i] === null || y === null || !isFinite(y)) { pen = false; continue; }
      const px = this.xToPx(L.x[i]), py = this.yToPx(y);
      if (!pen) { ctx.moveTo(px, py); pen = true; } else { ctx.lineTo(px, py); }
    }
  }

  draw() {
    this._resize();
    const ctx = this.ctx, m = this.margin, W = this.width, H = this.height;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, H);
    ctx.save();
    ctx.beginPath();
    ctx.rect(m.l, m.t, W - m.l - m.r, H - m.t - m.b);
    ctx.clip();
    // grid
    ctx.strokeStyle = "#eceff3"; ctx.lineWidth = 1;
    const xt = this._ticks(this.view.x0, this.view.x1, 10), yt = this._ticks(this.view.y0, this.view.y1, 5);
    ctx.beginPath();
    xt.forEach((t) => { const p = Math.round(this.xToPx(t)) + 0.5; ctx.moveTo(p, m.t); ctx.lineTo(p, H - m.b); });
    yt.forEach((t) => { const p = Math.round(this.yToPx(t)) + 0.5; ctx.moveTo(m.l, p); ctx.lineTo(W - m.r, p); });
    ctx.stroke();
    if (this.view.y0 < 0 && this.view.y1 > 0) {
      ctx.strokeStyle = "#b9c0c8"; ctx.beginPath();
      const p = Math.round(this.yToPx(0)) + 0.5; ctx.moveTo(m.l, p); ctx.lineTo(W - m.r, p); ctx.stroke();
    }
    for (const L of this.layers) {
      if (L.hidden) { continue; }
      ctx.setLineDash(L.dash || []);
      ctx.lineWidth = L.width || 1;
      if (L.type === "band") {
        ctx.fillStyle = L.color;
        let start = 0;
        while (start < L.x.length) {
          while (start < L.x.length && (L.lo[start] === null || L.hi[start] === null)) { start++; }
          let end = start;
          while (end < L.x.length && L.lo[end] !== null && L.hi[end] !== null) { end++; }
          if (end - start > 1) {
            ctx.beginPath();
            for (let i = start; i < end; i++) { const px = this.xToPx(L.x[i]), py = this.yToPx(L.hi[i]); if (i === start) { ctx.moveTo(px, py); } else { ctx.lineTo(px, py); } }
            for (let i = end - 1; i >= start; i--) { ctx.lineTo(this.xToPx(L.x[i]), this.yToPx(L.lo[i])); }
            ctx.closePath(); ctx.fill();
          }
          start = end + 1;
        }
      } else if (L.type === "line") {
        ctx.strokeStyle = L.color;
        ctx.beginPath();
        if (L.step) {
          let pen = false;
          for (let i = 0; i < L.x.length; i++) {
            const y = L.y[i];
            if (y === null || L.x[i] === null) { pen = false; continue; }
            const xl = i > 0 && L.x[i - 1] !== null ? 0.5 * (L.x[i - 1] + L.x[i]) : L.x[i];
            const xr = i < L.x.length - 1 && L.x[i + 1] !== null ? 0.5 * (L.x[i] + L.x[i + 1]) : L.x[i];
            const py = this.yToPx(y);
            if (!pen) { ctx.moveTo(this.xToPx(xl), py); pen = true; } else { ctx.lineTo(this.xToPx(xl), py); }
            ctx.lineTo(this.xToPx(xr), py);
          }
        } else {
          this._path(L, (i) => L.y[i]);
        }
        ctx.stroke();
      } else if (L.type === "fill") {
        ctx.fillStyle = L.color;
        ctx.beginPath();
        const base = this.yToPx(L.base || 0);
        let first = true;
        for (let i = 0; i < L.x.length; i++) {
          if (L.y[i] === null) { continue; }
          const px = this.xToPx(L.x[i]);
          if (first) { ctx.moveTo(px, base); first = false; }
          ctx.lineTo(px, this.yToPx(L.y[i]));
          if (i === L.x.length - 1 || L.y[i + 1] === null) { ctx.lineTo(px, base); }
        }
        ctx.closePath(); ctx.fill();
      } else if (L.type === "vline") {
        ctx.strokeStyle = L.color; ctx.beginPath();
        const p = Math.round(this.xToPx(L.x)) + 0.5;
        ctx.moveTo(p, m.t); ctx.lineTo(p, H - m.b); ctx.stroke();
      }
    }
    ctx.restore();
    ctx.setLineDash([]);
    // axes and labels
    ctx.strokeStyle = "#55606e"; ctx.lineWidth = 1;
    ctx.strokeRect(m.l + 0.5, m.t + 0.5, W - m.l - m.r - 1, H - m.t - m.b - 1);
    ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    xt.forEach((t) => ctx.fillText(String(t), this.xToPx(t), H - m.b + 4));
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    yt.forEach((t) => ctx.fillText(String(t), m.l - 5, this.yToPx(t)));
    ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    ctx.fillText(this.opts.xlabel, m.l + (W - m.l - m.r) / 2, H - 1);
    ctx.save();
    ctx.translate(12, m.t + (H - m.t - m.b) / 2); ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle"; ctx.fillText(this.opts.ylabel, 0, 0);
    ctx.restore();
    if (this.afterDraw) { this.afterDraw(ctx); }
  }
}
window.SWPlot = SWPlot;
