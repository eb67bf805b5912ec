"""The report's inline CSS and JavaScript (no CDN: the report must open offline)."""

from __future__ import annotations

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:16px 24px;color:#fff}
header.v-true{background:#2e7d32} header.v-false{background:#c62828}
header.v-unknown{background:#ef6c00}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0}
section{padding:8px 24px} h2{font-size:17px;border-bottom:1px solid #ddd}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
.ok{color:#2e7d32}.false{color:#c62828}.unknown{color:#ef6c00}
canvas{background:#fff;border:1px solid #ccc;display:block;width:100%}
pre{background:#f0f0f0;padding:6px;overflow:auto;max-height:320px;font-size:12px}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
#tip{position:fixed;pointer-events:none;background:#333;color:#fff;padding:4px 6px;
font:12px monospace;border-radius:3px;display:none;white-space:pre;z-index:9}
"""

JS = r"""
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const COLORS = ["#4a90d9", "#e57373", "#ffb74d"];  // ok, fail, info (Jepsen's blue/pink/orange)
const TYPES = ["ok", "fail", "info"];
const tip = document.getElementById("tip");
let view = [0, Math.max(D.end_ms, 1)];

function setup(canvas, height) {
  const r = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * r; canvas.height = height * r;
  canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d"); ctx.setTransform(r, 0, 0, r, 0, 0);
  return ctx;
}
function xOf(t, w) { return 40 + (t - view[0]) / (view[1] - view[0]) * (w - 50); }
function bands(ctx, w, h) {
  ctx.fillStyle = "rgba(120,120,120,0.15)";
  for (const [name, a, b] of D.nemesis) {
    const x0 = Math.max(40, xOf(a, w)), x1 = Math.min(w - 10, xOf(b, w));
    if (x1 > x0) { ctx.fillRect(x0, 0, x1 - x0, h); ctx.fillStyle = "#666";
      ctx.fillText(name, x0 + 2, 10); ctx.fillStyle = "rgba(120,120,120,0.15)"; }
  }
}
function axis(ctx, w, h) {
  ctx.fillStyle = "#444"; ctx.font = "10px sans-serif";
  for (let i = 0; i <= 5; i++) {
    const t = view[0] + (view[1] - view[0]) * i / 5;
    ctx.fillText((t / 1000).toFixed(2) + "s", xOf(t, w) - 10, h - 2);
  }
}
function drawTimeline() {
  const c = document.getElementById("timeline");
  const lane = Math.max(3, Math.min(14, 600 / Math.max(1, D.lanes.length)));
  const h = D.lanes.length * lane + 20, w = c.clientWidth, ctx = setup(c, h);
  bands(ctx, w, h);
  const end = view[1], start = view[0], marks = [];
  for (const row of D.calls) {
    const a = row[1], b = row[2] < 0 ? D.end_ms : row[2];
    if (b < start || a > end) continue;
    const x0 = xOf(a, w), x1 = Math.max(x0 + 1, xOf(b, w));
    ctx.fillStyle = COLORS[row[3]];
    ctx.fillRect(x0, row[0] * lane, x1 - x0, lane - 1);
    if (row[6]) marks.push([x0, x1, row[0]]);
  }
  ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
  for (const [x0, x1, l] of marks) ctx.strokeRect(x0 - 1, l * lane - 1, x1 - x0 + 2, lane + 1);
  axis(ctx, w, h);
  c.onmousemove = (e) => {
    const r = c.getBoundingClientRect(), l = Math.floor((e.clientY - r.top) / lane);
    const t = view[0] + (e.clientX - r.left - 40) / (w - 50) * (view[1] - view[0]);
    const hit = D.calls.find((row) => row[0] === l && row[1] <= t && (row[2] < 0 || row[2] >= t));
    if (!hit) { tip.style.display = "none"; return; }
    tip.textContent = "process " + D.lanes[l] + "  " + D.fs[hit[4]] + "  " + TYPES[hit[3]] +
      "\nindex " + hit[5] + "  " + hit[1] + "ms .. " + (hit[2] < 0 ? "?" : hit[2] + "ms");
    tip.style.display = "block"; tip.style.left = e.clientX + 12 + "px";
    tip.style.top = e.clientY + 12 + "px";
  };
  c.onmouseleave = () => { tip.style.display = "none"; };
}
function drawLatency() {
  const c = document.getElementById("latency"), w = c.clientWidth, h = 260, ctx = setup(c, h);
  bands(ctx, w, h);
  let max = 1;
  for (const row of D.calls) if (row[2] >= 0) max = Math.max(max, row[2] - row[1]);
  const lmax = Math.log10(max + 1);
  for (const row of D.calls) {
    if (row[2] < 0 || row[1] < view[0] || row[1] > view[1]) continue;
    const y = h - 15 - Math.log10(row[2] - row[1] + 1) / lmax * (h - 25);
    ctx.fillStyle = COLORS[row[3]]; ctx.fillRect(xOf(row[1], w), y, 2, 2);
  }
  ctx.fillStyle = "#444"; ctx.fillText(max.toFixed(0) + " ms (log)", 2, 10);
  axis(ctx, w, h);
}
function drawRate() {
  const c = document.getElementById("rate"), w = c.clientWidth, h = 180, ctx = setup(c, h);
  bands(ctx, w, h);
  const tp = D.throughput; let max = 1;
  for (const b of tp) max = Math.max(max, b.ok, b.fail, b.info);
  TYPES.forEach((k, i) => {
    ctx.strokeStyle = COLORS[i]; ctx.lineWidth = 1.5; ctx.beginPath();
    tp.forEach((b, j) => { const x = xOf(b.t * 1000, w), y = h - 15 - b[k] / max * (h - 25);
      if (j) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
    ctx.stroke();
  });
  ctx.fillStyle = "#444"; ctx.fillText(max + " ops/bucket", 2, 10);
  axis(ctx, w, h);
}
function redraw() { drawTimeline(); drawLatency(); drawRate(); }
function zoomable(id) {
  const c = document.getElementById(id); let drag = null;
  c.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = c.getBoundingClientRect(), f = e.deltaY > 0 ? 1.25 : 0.8;
    const t = view[0] + (e.clientX - r.left - 40) / (c.clientWidth - 50) * (view[1] - view[0]);
    view = [t - (t - view[0]) * f, t + (view[1] - t) * f]; redraw();
  }, {passive: false});
  c.addEventListener("mousedown", (e) => { drag = [e.clientX, view.slice()]; });
  window.addEventListener("mouseup", () => { drag = null; });
  c.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const dt = (e.clientX - drag[0]) / (c.clientWidth - 50) * (drag[1][1] - drag[1][0]);
    view = [drag[1][0] - dt, drag[1][1] - dt]; redraw();
  });
}
document.getElementById("reset").onclick = () => { view = [0, Math.max(D.end_ms, 1)]; redraw(); };
["timeline", "latency", "rate"].forEach(zoomable);
window.addEventListener("resize", redraw);
redraw();
document.body.dataset.ready = "1";
"""
