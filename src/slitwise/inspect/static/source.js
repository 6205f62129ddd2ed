/* slitwise inspect: the source page (spectra, 2D, chi2/p(z), markers, grading, keyboard). */
"use strict";
(async function () {
  const body = document.body;
  const sid = body.dataset.source;
  const ZMIN = parseFloat(body.dataset.zmin), ZMAX = parseFloat(body.dataset.zmax);
  const COLORS = ["#1f4e9c", "#c0392b", "#1e8449", "#7d3c98", "#b9770e", "#117a8b"];
  const MARKER_COLORS = {emission: "#d35400", absorption: "#2e86c1", break: "#7f8c8d"};
  const status = document.getElementById("save-status");
  const zInput = document.getElementById("z-input");
  const zSlider = document.getElementById("z-slider");
  const inspectorInput = document.getElementById("inspector");
  const comment = document.getElementById("comment");
  const advance = document.getElementById("auto-advance");
  const svgNS = "http://www.w3.org/2000/svg";

  function say(text, kind) {
    status.textContent = text;
    status.className = "status " + (kind || "");
  }

  let data;
  try {
    const resp = await fetch(body.dataset.api, {credentials: "same-origin"});
    data = await resp.json();
    if (!resp.ok) { throw new Error(data.error || resp.statusText); }
  } catch (err) {
    say("could not load the products: " + err.message, "error");
    return;
  }

  const zbest = data.z_auto;
  let z = zbest !== null && zbest !== undefined ? zbest : 0;
  document.getElementById("zbest-label").textContent = SW.fmt(zbest, 4);

  // -- 1D spectrum ------------------------------------------------------------------------
  const plot = new SWPlot(document.getElementById("spec-canvas"),
                          {xlabel: "observed wavelength [µm]", ylabel: "f_ν [µJy]"});
  const layers = [];
  const colorOf = {};
  data.spectra.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    colorOf[s.config] = color;
    const lo = s.flux.map((f, k) => (f === null || s.err[k] === null ? null : f - s.err[k]));
    const hi = s.flux.map((f, k) => (f === null || s.err[k] === null ? null : f + s.err[k]));
    layers.push({type: "band", x: s.wave, lo, hi, color: color + "2e", group: s.config});
    layers.push({type: "line", x: s.wave, y: s.flux, color, step: true, group: s.config});
  });
  data.zfits.forEach((f) => {
    if (f.model && f.model.wave.length) {
      layers.push({type: "line", x: f.model.wave, y: f.model.flux, color: "#111111", width: 1.3,
                   dash: [5, 3], group: "model", noExtent: true});
    }
  });
  plot.setLayers(layers);

  // legend: toggle gratings and models
  const legend = document.getElementById("legend");
  const groups = data.spectra.map((s) => s.config).concat(data.zfits.length ? ["model"] : []);
  groups.forEach((g) => {
    const label = SW.el("label", {"class": "legend-item"});
    const box = SW.el("input", {type: "checkbox", "data-group": g});
    box.checked = true;
    const swatch = SW.el("span", {"class": "swatch"});
    swatch.style.background = g === "model" ? "#111111" : colorOf[g];
    label.append(box, swatch, document.createTextNode(g === "model" ? "zfit model" : g));
    box.addEventListener("change", () => {
      layers.forEach((L) => { if (L.group === g) { L.hidden = !box.checked; } });
      plot.draw(); drawMarkers(); draw2d();
    });
    legend.appendChild(label);
  });
  if (!data.spectra.length) { say("no spectrum product for this source", "error"); }

  // -- line markers (SVG over the canvas, so they are real DOM nodes) ---------------------
  const markerLayer = document.getElementById("marker-layer");
  function drawMarkers() {
    while (markerLayer.firstChild) { markerLayer.removeChild(markerLayer.firstChild); }
    const W = plot.width, H = plot.height, m = plot.margin;
    markerLayer.setAttribute("width", W);
    markerLayer.setAttribute("height", H);
    markerLayer.setAttribute("viewBox", "0 0 " + W + " " + H);
    let row = 0, lastPx = -1e9;
    for (const line of data.linelist) {
      const obs = line.wave * (1 + z) / 1e4;
      if (obs < plot.view.x0 || obs > plot.view.x1) { continue; }
      const px = plot.xToPx(obs);
      row = px - lastPx < 46 ? (row + 1) % 3 : 0;
      lastPx = px;
      const node = document.createElementNS(svgNS, "line");
      node.setAttribute("x1", px.toFixed(2)); node.setAttribute("x2", px.toFixed(2));
      node.setAttribute("y1", m.t + 12 + row * 11); node.setAttribute("y2", H - m.b);
      node.setAttribute("class", "marker " + line.kind);
      node.setAttribute("stroke", MARKER_COLORS[line.kind]);
      node.setAttribute("data-name", line.name);
      node.setAttribute("data-rest", line.wave);
      markerLayer.appendChild(node);
      const text = document.createElementNS(svgNS, "text");
      text.setAttribute("x", (px + 2).toFixed(2)); text.setAttribute("y", m.t + 10 + row * 11);
      text.setAttribute("class", "marker-label " + line.kind);
      text.setAttribute("fill", MARKER_COLORS[line.kind]);
      text.textContent = line.name;
      markerLayer.appendChild(text);
    }
  }

  // -- 2D spectra aligned in wavelength --------------------------------------------------
  const twod = document.getElementById("twod");
  const panels = [];
  data.spectra.forEach((s) => {
    if (!s.has2d || !s.wave2d) { return; }
    const wrap = SW.el("div", {"class": "plotwrap twod-panel", "data-config": s.config});
    const canvas = SW.el("canvas", {"class": "twod-canvas", width: "1200", height: "70"});
    const label = SW.el("span", {"class": "twod-label"}, s.config + " 2D");
    wrap.append(canvas, label);
    twod.appendChild(wrap);
    const img = new Image();
    const panel = {s, canvas, img, ready: false};
    img.onload = () => { panel.ready = true; draw2d(); };
    img.src = body.dataset.api + "/2d/" + encodeURIComponent(s.config) + ".png";
    panels.push(panel);
  });
  function draw2d() {
    const dpr = window.devicePixelRatio || 1, m = plot.margin;
    for (const p of panels) {
      const c = p.canvas, W = c.clientWidth, H = c.clientHeight;
      c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
      const ctx = c.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
      ctx.fillStyle = "#f3f4f6"; ctx.fillRect(m.l, 0, W - m.l - m.r, H);
      const hidden = layers.some((L) => L.group === p.s.config && L.hidden);
      if (p.ready && !hidden) {
        ctx.imageSmoothingEnabled = false;
        ctx.save(); ctx.beginPath(); ctx.rect(m.l, 0, W - m.l - m.r, H); ctx.clip();
        const w = p.s.wave2d, n = w.length;
        for (let j = 0; j < n; j++) {
          if (w[j] === null) { continue; }
          const wl = j > 0 && w[j - 1] !== null ? 0.5 * (w[j - 1] + w[j]) : w[j] - 0.5 * ((w[j + 1] || w[j]) - w[j]);
          const wr = j < n - 1 && w[j + 1] !== null ? 0.5 * (w[j] + w[j + 1]) : w[j] + 0.5 * (w[j] - (w[j - 1] || w[j]));
          if (wr < plot.view.x0 || wl > plot.view.x1) { continue; }
          const xl = plot.xToPx(wl), xr = plot.xToPx(wr);
          ctx.drawImage(p.img, j, 0, 1, p.img.height, xl, 0, Math.max(1, xr - xl + 0.5), H);
        }
        ctx.restore();
      }
      for (const line of data.linelist) {
        const obs = line.wave * (1 + z) / 1e4;
        if (obs < plot.view.x0 || obs > plot.view.x1) { continue; }
        const px = Math.round(plot.xToPx(obs)) + 0.5;
        ctx.strokeStyle = MARKER_COLORS[line.kind]; ctx.beginPath();
        ctx.moveTo(px, 0); ctx.lineTo(px, 8); ctx.moveTo(px, H - 8); ctx.lineTo(px, H); ctx.stroke();
      }
    }
  }
  plot.onView(() => { drawMarkers(); draw2d(); });

  // -- chi2(z) and p(z) --------------------------------------------------------------------
  const chi2plot = new SWPlot(document.getElementById("chi2-canvas"),
                              {xlabel: "redshift z", ylabel: "Δχ²   (p(z) shaded)", yMinZero: true});
  const zLine = {type: "vline", x: z, color: "#e74c3c", width: 1.5, noExtent: true};
  function buildChi2() {
    const L = [];
    data.zfits.forEach((f, i) => {
      if (!f.z.length) { return; }
      const valid = f.chi2.filter((c) => c !== null);
      const cmin = Math.min.apply(null, valid);
      const d = f.chi2.map((c) => (c === null ? null : c - cmin));
      const sorted = d.filter((v) => v !== null).sort((a, b) => a - b);
      const top = sorted[Math.floor(0.99 * (sorted.length - 1))] || 1;
      const pmax = Math.max.apply(null, f.pz.filter((p) => p !== null)) || 1;
      const color = colorOf[f.config] || COLORS[i % COLORS.length];
      L.push({type: "fill", x: f.z, y: f.pz.map((p) => (p === null ? null : p / pmax * top)),
              color: color + "33", noExtent: true});
      L.push({type: "line", x: f.z, y: d, color, width: 1.2});
      if (f.zbest !== null) { L.push({type: "vline", x: f.zbest, color: "#7f8c8d", dash: [4, 3], noExtent: true}); }
    });
    L.push(zLine);
    chi2plot.setLayers(L);
  }
  buildChi2();
  chi2plot.onClick((x) => setZ(x, "chi2"));

  // -- redshift --------------------------------------------------------------------------
  zSlider.max = String(Math.max(12, Math.min(ZMAX, Math.ceil((zbest || 0) + 1))));
  function setZ(value, from) {
    if (!isFinite(value)) { return; }
    z = Math.min(ZMAX, Math.max(ZMIN, value));
    if (from !== "input") { zInput.value = z.toFixed(4); }
    if (from !== "slider") { zSlider.value = String(z); }
    zLine.x = z;
    chi2plot.draw();
    drawMarkers();
    draw2d();
  }
  zInput.addEventListener("input", () => {
    const v = parseFloat(zInput.value);
    if (isFinite(v) && v >= ZMIN && v <= ZMAX) { zInput.classList.remove("invalid"); setZ(v, "input"); }
    else { zInput.classList.add("invalid"); }
  });
  zSlider.addEventListener("input", () => setZ(parseFloat(zSlider.value), "slider"));
  document.getElementById("z-reset").addEventListener("click", () => setZ(zbest || 0));

  // -- tables ----------------------------------------------------------------------------
  function fillTable(id, head, rows) {
    const t = document.getElementById(id);
    while (t.firstChild) { t.removeChild(t.firstChild); }
    const tr = SW.el("tr");
    head.forEach((h) => tr.appendChild(SW.el("th", null, h)));
    t.appendChild(tr);
    rows.forEach((r) => {
      const row = SW.el("tr");
      r.forEach((c) => row.appendChild(SW.el("td", null, c)));
      t.appendChild(row);
    });
  }
  fillTable("zfit-table", ["grating", "ZBEST", "ZCONF", "ZQUAL", "ZWARN", "χ²min"],
            data.zfits.map((f) => [f.config, SW.fmt(f.zbest), SW.fmt(f.zconf, 3), f.zqual,
                                   f.zwarn + (f.warnings.length ? " " + f.warnings.join(",") : ""),
                                   SW.fmt(f.chi2min, 1)]));
  const linesBox = document.getElementById("lines-box");
  if (data.lines.length) {
    while (linesBox.firstChild) { linesBox.removeChild(linesBox.firstChild); }
    data.lines.forEach((lf) => {
      linesBox.appendChild(SW.el("p", {"class": "file"}, lf.file + (lf.error ? " — " + lf.error : "")));
      if (lf.models && lf.models.length) {  // the line models this fit was chosen from
        const mt = SW.el("table", {"class": "small models"});
        mt.appendChild(SW.el("tr")).append(SW.el("th", null, "line model"),
                                           SW.el("th", null, "Δ " + lf.models[0].criterion),
                                           SW.el("th", null, "±"), SW.el("th", null, ""));
        lf.models.forEach((m) => {
          mt.appendChild(SW.el("tr")).append(SW.el("td", null, m.model),
                                             SW.el("td", null, SW.fmt(m.delta, 1)),
                                             SW.el("td", null, SW.fmt(m.err, 1)),
                                             SW.el("td", null, m.chosen ? "chosen" : ""));
        });
        linesBox.appendChild(mt);
      }
      const t = SW.el("table", {"class": "small"});
      t.appendChild(SW.el("tr")).append(SW.el("th", null, "parameter"), SW.el("th", null, "value"),
                                        SW.el("th", null, "±"), SW.el("th", null, "unit"));
      lf.params.forEach((p) => {
        const r = SW.el("tr");
        r.append(SW.el("td", null, p.name), SW.el("td", null, SW.fmt(p.value, 4)),
                 SW.el("td", null, SW.fmt(p.err, 4)), SW.el("td", null, p.unit));
        t.appendChild(r);
      });
      linesBox.appendChild(t);
    });
  }
  const files = document.getElementById("file-list");
  data.spectra.map((s) => s.file).concat(data.zfits.map((f) => f.file), data.lines.map((l) => l.file))
    .forEach((f) => {
      const li = SW.el("li");
      li.appendChild(SW.el("a", {href: "/files/" + f.split("/").map(encodeURIComponent).join("/")}, f));
      files.appendChild(li);
    });
  if (data.problems.length) { say(data.problems.join("; "), "error"); }

  function showGrades(grades, history) {
    fillTable("grades-table", ["inspector", "grade", "z (visual)", "comment", "time (UTC)"],
              grades.map((g) => [g.inspector, g.grade, SW.fmt(g.z_vi), g.comment, g.timestamp.slice(0, 19)]));
    fillTable("history-table", ["time (UTC)", "inspector", "grade", "z", "origin", "comment"],
              history.slice().reverse().map((h) => [h.timestamp.slice(0, 19), h.inspector, h.grade,
                                                    SW.fmt(h.z_vi), h.origin, h.comment]));
  }
  let grades = data.grades;
  showGrades(grades, data.history);

  // -- grading ---------------------------------------------------------------------------
  inspectorInput.value = localStorage.getItem("slitwise.inspector") || "";
  advance.checked = localStorage.getItem("slitwise.advance") === "1";
  advance.addEventListener("change", () => localStorage.setItem("slitwise.advance", advance.checked ? "1" : "0"));
  function markOwn() {
    const mine = grades.find((g) => g.inspector === inspectorInput.value.trim());
    document.querySelectorAll(".grade-btn").forEach((b) => {
      b.classList.toggle("active", !!mine && parseInt(b.dataset.grade, 10) === mine.grade);
    });
    body.dataset.grade = mine ? String(mine.grade) : "";
    return mine;
  }
  const own = markOwn();
  if (own) {
    if (own.z_vi !== null) { z = own.z_vi; }
    comment.value = own.comment;
    say("your grade: " + own.grade + " (" + own.timestamp.slice(0, 19) + " UTC)");
  }
  inspectorInput.addEventListener("change", () => {
    localStorage.setItem("slitwise.inspector", inspectorInput.value.trim());
    markOwn();
  });

  let saving = false;
  async function grade(g) {
    const who = inspectorInput.value.trim();
    if (!who) { say("enter your name (inspector) first", "error"); inspectorInput.focus(); return; }
    if (saving) { return; }
    saving = true;
    localStorage.setItem("slitwise.inspector", who);
    say("saving…");
    try {
      const res = await SW.postJSON(body.dataset.gradeUrl, {
        source_id: sid, grade: g, z_vi: Math.round(z * 1e5) / 1e5, comment: comment.value, inspector: who,
      });
      grades = res.grades;
      markOwn();
      const hist = await (await fetch("/api/history/" + encodeURIComponent(sid))).json();
      showGrades(grades, hist.history);
      say("saved: grade " + g + " at z = " + z.toFixed(4) + " by " + who, "ok");
      if (advance.checked && body.dataset.next) { window.location.href = body.dataset.next; }
    } catch (err) {
      say("not saved: " + err.message, "error");
    } finally {
      saving = false;
    }
  }
  document.querySelectorAll(".grade-btn").forEach((b) => {
    b.addEventListener("click", () => grade(parseInt(b.dataset.grade, 10)));
  });

  // -- keyboard --------------------------------------------------------------------------
  const help = document.getElementById("help");
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { document.activeElement.blur(); help.classList.add("hidden"); return; }
    if (e.target === comment && e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      const mine = markOwn();
      if (mine) { grade(mine.grade); } else { say("choose a grade first", "error"); }
      e.preventDefault();
      return;
    }
    if (SW.isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) { return; }
    const step = 0.001 * (1 + z), big = 0.01 * (1 + z);
    const go = (url) => { if (url) { window.location.href = url; } };
    switch (e.key) {
      case "3": case "2": case "1": case "0": grade(parseInt(e.key, 10)); break;
      case "x": case "-": grade(-1); break;
      case "n": case "ArrowRight": go(body.dataset.next); break;
      case "p": case "ArrowLeft": go(body.dataset.prev); break;
      case "b": go(body.dataset.back); break;
      case "z": zInput.focus(); zInput.select(); break;
      case "a": setZ(zbest || 0); break;
      case "[": setZ(z - step); break;
      case "]": setZ(z + step); break;
      case "{": setZ(z - big); break;
      case "}": setZ(z + big); break;
      case "r": plot.reset(); chi2plot.reset(); break;
      case "?": help.classList.toggle("hidden"); break;
      default: return;
    }
    e.preventDefault();
  });

  setZ(z);
  drawMarkers();
  draw2d();
  window.SWInspect = {
    setZ, getZ: () => z, plot, chi2plot,
    markers: () => Array.from(markerLayer.querySelectorAll("line.marker")).map((n) => ({
      name: n.getAttribute("data-name"), x: parseFloat(n.getAttribute("x1"))})),
  };
  body.dataset.ready = "1";
})();
