"""A run's report, with no server: `report.png` (loss, each metric and the learning rate over the
global step, and a confusion matrix per evaluated split of a classifier) and `report.html` (the
same figure inlined as base64, the final values and the run's entries), from the files a run
leaves in its checkpoint directory: `scalars.jsonl`, `confusion_<phase>.json`, `run_summary.json`."""
from __future__ import annotations

import base64
import glob
import html
import io
import json
import math
import os
import time
from typing import Any, Optional

from ..engine.report import SCALARS_FILE
from .confusion import read_confusion
from .terminal import SUMMARY_FILE

__all__ = ["write_report", "read_scalars", "render_png", "render_html"]

_PHASE_ORDER = {"train": 0, "dev": 1, "test": 2}
_STYLE = {"train": {"marker": None, "linewidth": 1.4}, "dev": {"marker": "o", "linewidth": 1.4, "markersize": 4},
          "test": {"marker": "s", "linewidth": 0, "markersize": 6}}


def read_scalars(path: str) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] by step; a step logged again (a resumed run) keeps its last value."""
    series: dict[str, dict[int, float]] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                tag, step, value = str(row["tag"]), int(row["step"]), float(row["value"])
            except (ValueError, KeyError, TypeError):
                if not line.endswith("\n"):
                    break  # the last line of a run killed while writing it
                raise ValueError(f"{path}:{number}: not a scalar record {{\"tag\", \"step\", \"value\"}}: "
                                 f"{line.strip()[:80]}") from None
            series.setdefault(tag, {})[step] = value
    return {tag: sorted(points.items()) for tag, points in series.items()}


def _panels(scalars: dict[str, list]) -> list[tuple[str, list[tuple[str, list]]]]:
    """[(title, [(phase, points)])]: loss first, then each metric, then the learning rate."""
    by_name: dict[str, list[tuple[str, list]]] = {}
    for tag, points in scalars.items():
        phase, _, name = tag.partition("/")
        if not name:
            phase, name = "train", tag
        by_name.setdefault(name, []).append((phase, points))
    names = sorted(by_name, key=lambda n: (n != "loss", n == "lr", n))
    panels = []
    for name in names:
        lines = sorted(by_name[name], key=lambda item: _PHASE_ORDER.get(item[0], 9))
        panels.append(("learning rate" if name == "lr" else name, lines))
    return panels


def render_png(scalars: dict[str, list], confusions: list[dict], title: str) -> bytes:
    """The report figure as PNG bytes (matplotlib's Agg canvas: no display, no global backend change)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = _panels(scalars)
    count = len(panels) + len(confusions)
    if count == 0:
        raise ValueError("nothing to plot: the run logged no scalars and wrote no confusion matrix.")
    cols = min(3, count)
    rows = math.ceil(count / cols)
    fig = Figure(figsize=(5.2 * cols, 4.2 * rows + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    fig.suptitle(title, fontsize=12)
    for i, (name, lines) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        for phase, points in lines:
            steps, values = zip(*points)
            style = dict(_STYLE.get(phase, {"marker": "^", "linewidth": 1.0}))
            if len(points) == 1:
                style.update(marker=style["marker"] or "o", linewidth=0)
            ax.plot(steps, values, label=phase, **style)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        if name == "learning rate":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        ax.legend(fontsize=8)
    for j, record in enumerate(confusions):
        ax = fig.add_subplot(rows, cols, len(panels) + j + 1)
        _confusion_axes(ax, record)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _confusion_axes(ax: Any, record: dict) -> None:
    import numpy as np

    matrix = np.asarray(record["matrix"], dtype=float)
    labels = record.get("labels") or [str(i) for i in range(len(matrix))]
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    size = len(matrix)
    if size <= 20:
        for r in range(size):
            for c in range(size):
                ax.text(c, r, f"{int(matrix[r, c])}", ha="center", va="center", fontsize=8,
                        color="white" if shares[r, c] > 0.6 else "black")
    ax.set_xticks(range(size))
    ax.set_yticks(range(size))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion, {record.get('phase', '?')} (accuracy {record.get('accuracy', 0):.3f}, "
                 f"n={record.get('count', int(matrix.sum()))})", fontsize=9)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def render_html(png: bytes, scalars: dict[str, list], confusions: list[dict], summary: Optional[dict],
                checkpoint_dir: str) -> str:
    """One self-contained page: no script, no external file; the figure is a data: URI."""
    parts = [f"<h1>hubtrain run report</h1><p>{html.escape(checkpoint_dir)}<br>written "
             f"{time.strftime('%Y-%m-%d %H:%M:%S')}</p>",
             f'<img alt="loss, metrics, learning rate and confusion matrices" '
             f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">']
    runs = (summary or {}).get("runs") or []
    rows = [[run.get("time"), e.get("runner"), e.get("class"),
             {k: v for k, v in e.items() if k not in ("runner", "class")}]
            for run in runs if isinstance(run, dict) for e in run.get("entries") or [] if isinstance(e, dict)]
    if rows:
        parts.append("<h2>Runner entries</h2>" + _table(["run", "entry", "class", "result"], rows))
    if scalars:
        rows = [[tag, len(points), points[-1][0], points[-1][1]] for tag, points in sorted(scalars.items())]
        parts.append("<h2>Last values</h2>" + _table(["scalar", "points", "last step", "last value"], rows))
    for record in confusions:
        labels = record.get("labels") or [str(i) for i in range(len(record["matrix"]))]
        rows = [[labels[i]] + list(row) for i, row in enumerate(record["matrix"])]
        parts.append(f"<h2>Confusion matrix, {html.escape(str(record.get('phase')))}</h2>"
                     f"<p>rows: true label, columns: predicted; accuracy {record.get('accuracy', 0):.4f} over "
                     f"{record.get('count')} examples</p>" + _table(["true \\ predicted"] + labels, rows))
    style = ("body{font-family:sans-serif;margin:2em;color:#222}img{max-width:100%}"
             "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
             "font-size:13px;text-align:right}th{background:#f3f3f3}")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>hubtrain report</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def _confusions(checkpoint_dir: str) -> list[dict]:
    paths = glob.glob(os.path.join(checkpoint_dir, "confusion_*.json"))
    records = [read_confusion(p) for p in paths]
    return sorted(records, key=lambda r: (_PHASE_ORDER.get(r.get("phase"), 9), str(r.get("phase"))))


def _write(path: str, data: bytes) -> None:
    with open(f"{path}.part", "wb") as f:
        f.write(data)
    os.replace(f"{path}.part", path)


def write_report(checkpoint_dir: str, output_dir: Optional[str] = None) -> tuple[str, str]:
    """Write report.png and report.html for the run in `checkpoint_dir` (into `output_dir`,
    default the checkpoint directory); returns their paths."""
    checkpoint_dir = os.path.abspath(checkpoint_dir)
    if not os.path.isdir(checkpoint_dir):
        raise FileNotFoundError(f"checkpoint directory not found: {checkpoint_dir}; give the checkpoint_dir of a "
                                f"run.")
    scalars_path = os.path.join(checkpoint_dir, SCALARS_FILE)
    scalars = read_scalars(scalars_path) if os.path.isfile(scalars_path) else {}
    confusions = _confusions(checkpoint_dir)
    if not scalars and not confusions:
        raise FileNotFoundError(f"{checkpoint_dir} has no {SCALARS_FILE} and no confusion_<phase>.json: a run "
                                f"writes them when it trains with a checkpoint_dir and use_vdl=True (the default); "
                                f"check the directory.")
    summary_path = os.path.join(checkpoint_dir, SUMMARY_FILE)
    summary = None
    if os.path.isfile(summary_path):
        with open(summary_path, encoding="utf-8") as f:
            summary = json.load(f)
    output_dir = os.path.abspath(output_dir or checkpoint_dir)
    os.makedirs(output_dir, exist_ok=True)
    png = render_png(scalars, confusions, f"hubtrain run: {os.path.basename(checkpoint_dir)}")
    png_path, html_path = os.path.join(output_dir, "report.png"), os.path.join(output_dir, "report.html")
    _write(png_path, png)
    _write(html_path, render_html(png, scalars, confusions, summary, checkpoint_dir).encode("utf-8"))
    return png_path, html_path
