"""The run report: one self-contained, offline `index.html` (DESIGN.md 4.5, issue 7).

Verdict at the top; each checker with its anomalies and their witnesses; for a
linearizability failure, the longest linearizable prefix and the op that could not be placed;
latency and throughput plots and a timeline of every call per process, all with nemesis
periods shaded, zoomable (wheel) and pannable (drag); links to the test spec and node logs
when they sit beside the report.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from harness.history import Op
from harness.report.assets import CSS, JS
from harness.report.data import report_data

MAX_WITNESSES_SHOWN = 8


def _verdict(v: Any) -> str:
    return "true" if v is True else "false" if v is False else "unknown"


def _json(x: Any) -> str:
    return html.escape(json.dumps(x, indent=1, sort_keys=True, default=str))


def _summary(results: dict[str, Any]) -> str:
    rows = []
    for name, r in results.get("checkers", {}).items():
        v = _verdict(r.get("valid"))
        counts = r.get("counts") or {k: len(w) for k, w in r.get("anomalies", {}).items()}
        found = ", ".join(f"{html.escape(str(k))} ({n})" for k, n in counts.items()) or "none"
        reason = html.escape(str(r.get("reason", "")))
        cells = (html.escape(name), f"<span class='{v}'>{v}</span>", found, reason)
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        "<table><tr><th>checker</th><th>valid</th><th>anomalies</th><th>note</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _linear_view(w: dict[str, Any]) -> str:
    """Porcupine-style: the partial linearization, then the op that cannot follow it."""
    rows = [
        f"<tr><td>{i}</td><td>{_json(step['op'].get('process'))}</td><td>{_json(step['op'].get('f'))}</td>"
        f"<td>{_json(step['op'].get('value'))}</td><td>{_json(step['state'])}</td></tr>"
        for i, step in enumerate(w.get("linearized", []))
    ]
    op = w.get("op") or {}
    cands = "".join(
        f"<li>{_op_text(c['op'])}: "
        f"{'legal here but leads nowhere' if c['legal'] else 'illegal in this state'}</li>"
        for c in w.get("candidates", [])
    )
    return (
        f"<p>Key {_json(w.get('key'))}: {w.get('linearized_count')} ops linearize (the last "
        f"ones below); then {_op_text(op)} must take effect before it returns, but from state "
        f"<b>{_json(w.get('state'))}</b> no order of the pending ops works.</p>"
        "<table><tr><th>#</th><th>process</th><th>f</th><th>value</th><th>state after</th></tr>"
        + "".join(rows)
        + f"</table><p>Candidates at that point:</p><ul>{cands}</ul>"
    )


def _op_text(op: dict[str, Any]) -> str:
    return f"{_json(op.get('f'))} {_json(op.get('value'))} (index {op.get('index')})"


def _anomalies(results: dict[str, Any]) -> str:
    parts = []
    for name, r in results.get("checkers", {}).items():
        for anomaly, witnesses in r.get("anomalies", {}).items():
            parts.append(f"<h3>{html.escape(name)}: {html.escape(anomaly)}</h3>")
            for w in witnesses[:MAX_WITNESSES_SHOWN]:
                if anomaly == "nonlinearizable" and "reason" in w:
                    parts.append(f"<p>{_op_text(w.get('op') or {})}: {_json(w['reason'])}</p>")
                elif anomaly == "nonlinearizable":
                    parts.append(_linear_view(w))
                parts.append(f"<pre>{_json(w)}</pre>")
    return "".join(parts) or "<p>No anomalies found.</p>"


def _links(out_dir: Path) -> str:
    links = []
    if (out_dir / "test.json").exists():
        links.append("<a href='test.json'>test spec</a>")
    for name in ("history.jsonl", "results.json"):
        if (out_dir / name).exists():
            links.append(f"<a href='{name}'>{name}</a>")
    nodes = out_dir / "nodes"
    if nodes.is_dir():
        for f in sorted(p for p in nodes.rglob("*") if p.is_file())[:200]:
            rel = html.escape(str(f.relative_to(out_dir)))
            links.append(f"<a href='{rel}'>{rel}</a>")
    return " · ".join(links) or "none beside this report"


def render_page(
    history: list[Op], results: dict[str, Any], title: str, out_dir: Path | None
) -> str:
    v = _verdict(results.get("valid"))
    data = json.dumps(report_data(history, results), separators=(",", ":")).replace("</", "<\\/")
    n_calls = sum(
        1 for op in history if op.get("type") == "invoke" and op.get("process") != "nemesis"
    )
    legend = "".join(
        f"<span><i class='sw' style='background:{c}'></i>{t}</span>"
        for t, c in (("ok", "#4a90d9"), ("fail", "#e57373"), ("info", "#ffb74d"), ("fault", "#ccc"))
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style></head><body>
<header class="v-{v}"><h1 id="verdict">valid: {v}</h1>
<p>{html.escape(title)} · {n_calls} client calls · {len(history)} history ops</p></header>
<section><h2>Checkers</h2>{_summary(results)}</section>
<section><h2>Anomalies</h2>{_anomalies(results)}</section>
<section><h2>Timeline</h2><p class="legend">{legend} · outlined: ops named by an anomaly ·
wheel to zoom, drag to pan <button id="reset">reset zoom</button></p>
<canvas id="timeline"></canvas></section>
<section><h2>Latency</h2><canvas id="latency"></canvas></section>
<section><h2>Throughput</h2><canvas id="rate"></canvas></section>
<section><h2>Files</h2><p>{_links(out_dir) if out_dir else "none"}</p></section>
<div id="tip"></div>
<script type="application/json" id="data">{data}</script>
<script>{JS}</script></body></html>
"""


def write_report(
    history: list[Op], results: dict[str, Any], out_dir: Path, title: str = "Wiber run"
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(render_page(history, results, title, out_dir), encoding="utf-8")
    return path
