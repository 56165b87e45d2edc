"""`render_report`: one run as a self-contained HTML page: summary, a timeline of every host,
failures first, per-host output with a search box, and the diffs of changed files.

Everything is inline (CSS, JS, the SVG timeline): the page loads nothing at view time, and
its Content-Security-Policy forbids it to. Remote output is hostile: every text is escaped,
and the policy allows only this module's own script and style (by hash) to run.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, tzinfo
from html import escape

from .records import COUNTED, HostRecord, RunDetail
from .render import format_duration, format_time

COLORS = {
    "ok": "#2f9e5b",
    "failed": "#d33c3c",
    "interrupted": "#e09b1a",
    "skipped": "#9aa0a6",
    "running": "#3b82f6",
    "pending": "#c7cbd1",
}

_STYLE = """
:root { --fg:#1d2430; --muted:#5f6b7a; --line:#e3e7ec; --bg:#f6f8fa; --card:#fff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color:var(--fg); background:var(--bg); }
main { max-width:1200px; margin:0 auto; padding:24px; }
h1 { font-size:20px; margin:0 0 6px; } h2 { font-size:16px; margin:28px 0 10px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace;
  font-size:12.5px; }
.badge { display:inline-block; padding:1px 9px; border-radius:10px; color:#fff; font-size:13px;
  vertical-align:2px; }
.s-ok { background:#2f9e5b; } .s-failed { background:#d33c3c; }
.s-interrupted { background:#e09b1a; }
.s-skipped, .s-pending { background:#9aa0a6; } .s-running { background:#3b82f6; }
.meta { display:grid; grid-template-columns:max-content 1fr; gap:2px 14px; margin:10px 0 0;
  color:var(--muted); } .meta dd { margin:0; color:var(--fg); word-break:break-all; }
.counts { display:flex; gap:10px; flex-wrap:wrap; margin-top:18px; }
.count { background:var(--card); border:1px solid var(--line); border-left:5px solid #9aa0a6;
  border-radius:6px; padding:8px 14px; min-width:110px; text-align:left; font:inherit;
  color:inherit; cursor:pointer; }
.count b { display:block; font-size:22px; } .count.active { outline:2px solid var(--fg); }
.count.c-ok { border-left-color:#2f9e5b; } .count.c-failed { border-left-color:#d33c3c; }
.count.c-interrupted { border-left-color:#e09b1a; } .count.c-all { border-left-color:var(--fg); }
.panel { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px; }
svg.timeline { width:100%; height:auto; display:block; }
svg .bar-ok { fill:#2f9e5b; } svg .bar-failed { fill:#d33c3c; }
svg .bar-interrupted { fill:#e09b1a; }
svg .bar-skipped, svg .bar-pending { fill:#9aa0a6; } svg .bar-running { fill:#3b82f6; }
svg .label { font:11px ui-monospace, "DejaVu Sans Mono", monospace; fill:var(--fg); }
svg .axis { font:11px system-ui, sans-serif; fill:var(--muted); } svg .grid { stroke:var(--line); }
.note { color:var(--muted); margin:6px 0 0; }
.failure { border-left:4px solid #d33c3c; margin:0 0 12px; }
.failure.st-interrupted { border-left-color:#e09b1a; }
.failure h3 { font-size:14px; margin:0 0 4px; } .error { margin:2px 0 8px; white-space:pre-wrap; }
pre { margin:0; padding:8px 10px; background:#0f1720; color:#d8dee9; border-radius:4px;
  overflow:auto; max-height:420px; white-space:pre-wrap; word-break:break-all; }
pre .err { color:#ff8a80; } pre .dropped { color:#8a94a3; font-style:italic; }
.diff .add { color:#8ee59f; } .diff .del { color:#ff8a80; } .diff .hunk { color:#7cc7ff; }
.change { margin:0 0 12px; } .change h3 { font-size:13px; margin:0 0 6px; font-weight:600; }
.toolbar { display:flex; gap:12px; align-items:center; margin:0 0 10px; }
#search { flex:1; padding:7px 10px; border:1px solid var(--line); border-radius:5px; font:inherit; }
details.host { background:var(--card); border:1px solid var(--line); border-radius:5px;
  margin:0 0 4px; } details.host[hidden] { display:none; }
details.host > summary { cursor:pointer; padding:5px 10px; list-style-position:inside; }
details.host > pre { margin:0 8px 8px; } .host .info { color:var(--muted); }
footer { color:var(--muted); margin:30px 0 10px; font-size:12px; }
""".strip()

_SCRIPT = """
(function () {
  var hosts = Array.prototype.slice.call(document.querySelectorAll("details.host"));
  var texts = hosts.map(function (h) {
    return (h.getAttribute("data-name") + "\\n" + h.textContent).toLowerCase();
  });
  var box = document.getElementById("search");
  var shown = document.getElementById("shown");
  var filters = Array.prototype.slice.call(document.querySelectorAll("[data-filter]"));
  var status = null;
  function apply() {
    var query = box.value.trim().toLowerCase();
    var count = 0;
    hosts.forEach(function (host, i) {
      var match = (!query || texts[i].indexOf(query) !== -1) &&
        (!status || host.getAttribute("data-status") === status);
      host.hidden = !match;
      if (match) { count += 1; }
    });
    shown.textContent = count + " of " + hosts.length + " hosts";
  }
  box.addEventListener("input", apply);
  filters.forEach(function (button) {
    button.addEventListener("click", function () {
      var wanted = button.getAttribute("data-filter");
      status = (wanted === "all" || wanted === status) ? null : wanted;
      filters.forEach(function (b) {
        b.classList.toggle("active", b.getAttribute("data-filter") === (status || "all"));
      });
      apply();
    });
  });
  apply();
})();
""".strip()


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


_POLICY = (
    f"default-src 'none'; style-src {_hash(_STYLE)}; script-src {_hash(_SCRIPT)}; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def render_report(run: RunDetail, *, tz: tzinfo | None = None) -> str:
    """Return the run's report: one self-contained HTML page (no network at view time)."""
    summary = run.summary
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_POLICY)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>corral run {_e(summary.run_id)}: {_e(summary.status)}</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        _header(run, tz),
        _counts(run),
        _timeline(run, tz),
        _failures(run),
        _changes(run),
        _hosts(run),
        f"<footer>corral {_e(run.version or '')} · report of run {_e(summary.run_id)}"
        f" · written {_e(format_time(datetime.now().timestamp(), tz))}</footer>",
        f"</main><script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _header(run: RunDetail, tz: tzinfo | None) -> str:
    s = run.summary
    exit_text = "" if s.exit_status is None else f" · exit {s.exit_status}"
    rows = [
        (
            "started",
            f"{format_time(s.started_at, tz)} by {s.user}"
            + (f" on {s.controller}" if s.controller else ""),
        ),
        ("duration", format_duration(s.duration) + exit_text),
        ("what", s.what or "-"),
        ("command", " ".join(run.argv) or "-"),
        ("hosts", run.selection or "-"),
        ("directory", run.cwd or "-"),
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return (
        f'<header><h1>corral run <code id="run-id">{_e(s.run_id)}</code> '
        f'<span id="run-status" class="badge s-{_e(s.status)}">{_e(s.status)}</span></h1>'
        f'<dl class="meta">{items}</dl></header>'
    )


def _counts(run: RunDetail) -> str:
    counts = run.summary.counts
    cards = [
        f'<button class="count c-all active" data-filter="all" id="count-all">'
        f"<b>{len(run.hosts)}</b>hosts</button>"
    ]
    for name in COUNTED:
        cards.append(
            f'<button class="count c-{name}" data-filter="{name}" id="count-{name}">'
            f"<b>{counts.get(name, 0)}</b>{name}</button>"
        )
    return f'<section class="counts" id="summary">{"".join(cards)}</section>'


def _timeline(run: RunDetail, tz: tzinfo | None) -> str:
    bars = [h for h in run.hosts if h.started_at is not None]
    never = len(run.hosts) - len(bars)
    if not bars:
        return (
            '<h2>Timeline</h2><div class="panel" id="timeline">'
            '<p class="note">No host started.</p></div>'
        )
    start = min(run.summary.started_at, *(h.started_at or 0 for h in bars))
    ends = [h.finished_at or h.started_at or start for h in bars]
    end = max([run.summary.finished_at or start, *ends])
    span = max(end - start, 1e-3)
    bars.sort(key=lambda h: (h.started_at or 0, h.position))
    count = len(bars)
    row = 16.0 if count <= 40 else max(0.6, min(8.0, 600.0 / count))  # 1,000 hosts: 600 tall
    has_labels = row >= 12
    left = 150.0 if has_labels else 0.0
    gap = row * 0.12 if has_labels else 0.0  # dense rows touch: a band per host
    width = 1000.0
    plot = width - left - 10
    top = 4.0
    height = top + count * row + 22
    out = [
        f'<svg class="timeline" id="timeline-svg" viewBox="0 0 {width:.0f} {height:.1f}" '
        f'role="img" aria-label="timeline of {count} hosts"'
        + ("" if has_labels else ' shape-rendering="crispEdges"')  # dense rows stay sharp
        + ">"
    ]
    for tick in range(5):
        x = left + plot * tick / 4
        offset = span * tick / 4  # the start's clock time, then seconds after it
        label = format_time(start, tz)[11:] if tick == 0 else f"+{format_duration(offset)}"
        out.append(
            f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 18:.1f}"/>'
            f'<text class="axis" x="{x:.1f}" y="{height - 4:.1f}" '
            f'text-anchor="{"start" if tick == 0 else "end" if tick == 4 else "middle"}">'
            f"{_e(label)}</text>"
        )
    for index, host in enumerate(bars):
        assert host.started_at is not None
        finished = host.finished_at or end
        x = left + plot * (host.started_at - start) / span
        w = max(plot * (finished - host.started_at) / span, 1.5)
        y = top + index * row
        title = (
            f"{host.host}: {host.status}, {format_duration(host.duration)} "
            f"({format_time(host.started_at, tz)[11:]} to {format_time(finished, tz)[11:]})"
        )
        if has_labels:
            out.append(
                f'<text class="label" x="{left - 6:.1f}" y="{y + row * 0.72:.1f}" '
                f'text-anchor="end">{_e(host.host[:22])}</text>'
            )
        out.append(
            f'<rect class="bar-{_e(host.status)}" data-host="{_e(host.host)}" x="{x:.2f}" '
            f'y="{y + gap:.2f}" width="{w:.2f}" height="{row - 2 * gap:.2f}">'
            f"<title>{_e(title)}</title></rect>"
        )
    out.append("</svg>")
    note = (
        f'<p class="note">{never} host{"s" if never != 1 else ""} never started.</p>'
        if never
        else ""
    )
    return f'<h2>Timeline</h2><div class="panel" id="timeline">{"".join(out)}{note}</div>'


def _output(host: HostRecord) -> str:
    lines = []
    if host.output_dropped:
        lines.append(f'<span class="dropped">… {host.output_dropped} earlier lines not kept</span>')
    for stream, text in host.output:
        line = _e(text)
        lines.append(f'<span class="err">{line}</span>' if stream == "stderr" else line)
    body = "\n".join(lines) if lines else '<span class="dropped">(no output)</span>'
    return f'<pre class="output">{body}</pre>'


def _failures(run: RunDetail) -> str:
    failures = run.failures()
    if not failures:
        return '<h2>Failures</h2><p class="note" id="failures">No host failed.</p>'
    items = []
    for host in failures:
        facts: list[str] = [host.status]
        if host.exit_code is not None:
            facts.append(f"exit {host.exit_code}")
        if host.task:
            facts.append(f"task {host.task}")
        if host.duration is not None:
            facts.append(format_duration(host.duration))
        error = f"{host.error_type}: {host.error}" if host.error_type else host.error or ""
        items.append(
            f'<article class="panel failure st-{_e(host.status)}" data-host="{_e(host.host)}">'
            f'<h3><span class="mono">{_e(host.host)}</span> '
            f'<span class="badge s-{_e(host.status)}">{_e(" · ".join(facts))}</span></h3>'
            f'<div class="error mono">{_e(error)}</div>{_output(host)}</article>'
        )
    return f'<h2>Failures ({len(failures)})</h2><section id="failures">{"".join(items)}</section>'


def _diff(text: str) -> str:
    lines = []
    for line in text.splitlines():
        kind = ""
        if line.startswith(("+++", "---")):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        elif line.startswith("@@"):
            kind = "hunk"
        lines.append(f'<span class="{kind}">{_e(line)}</span>' if kind else _e(line))
    return '<pre class="diff">' + "\n".join(lines) + "</pre>"


def _changes(run: RunDetail) -> str:
    changed = [(h, op) for h in run.hosts for op in h.operations if op.changed]
    if not changed:
        return ""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for host, op in changed:  # the same diff on 300 hosts is shown once, with its hosts
        groups.setdefault((op.operation, op.message, op.diff or ""), []).append(host.host)
    items = []
    for (operation, message, diff), hosts in groups.items():
        names = ", ".join(hosts[:8]) + (f" and {len(hosts) - 8} more" if len(hosts) > 8 else "")
        items.append(
            f'<article class="panel change"><h3>{_e(operation)}'
            f"{' · ' + _e(message) if message else ''} "
            f'<span class="info">on {len(hosts)} host{"s" if len(hosts) != 1 else ""}: '
            f"{_e(names)}</span></h3>{_diff(diff) if diff else ''}</article>"
        )
    return f'<h2>Changes ({len(changed)})</h2><section id="changes">{"".join(items)}</section>'


def _hosts(run: RunDetail) -> str:
    order = sorted(run.hosts, key=lambda h: (not h.is_failure, h.position))
    items = []
    for host in order:
        info: list[str] = [host.status]
        if host.exit_code is not None:
            info.append(f"exit {host.exit_code}")
        info.append(format_duration(host.duration))
        if host.task:
            info.append(host.task)
        color = COLORS.get(host.status, "#9aa0a6")
        items.append(
            f'<details class="host" data-name="{_e(host.host)}" data-status="{_e(host.status)}">'
            f'<summary><svg width="10" height="10" aria-hidden="true">'
            f'<circle cx="5" cy="5" r="4.5" fill="{color}"/></svg> '
            f'<span class="mono">{_e(host.host)}</span> '
            f'<span class="info">{_e(" · ".join(info))}</span></summary>'
            f"{_output(host)}</details>"
        )
    return (
        '<h2>Hosts</h2><section id="hosts"><div class="toolbar">'
        '<input id="search" type="search" placeholder="Filter hosts by name or output" '
        'aria-label="filter hosts" autocomplete="off"><span id="shown" class="note"></span></div>'
        f"{''.join(items)}</section>"
    )
