"""The default terminal stage: confusion matrices, export, clean-up, the run summary."""
from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any

import numpy as np

from ..engine import distributed
from ..engine.checkpoint import CheckpointManager
from ..engine.report import log
from .confusion import confusion_matrix, is_single_label_classifier, write_confusion
from .runner import export
from .stages import Context, TerminalBase

__all__ = ["Terminal", "SUMMARY_FILE", "write_summary"]

SUMMARY_FILE = "run_summary.json"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def write_summary(context: Context) -> str | None:
    """`<checkpoint_dir>/run_summary.json`: `{"runs": [...]}`, one record per run on the directory
    (its run file, time, every finished entry's record, the files written); this run's record is
    replaced as its entries finish, earlier runs' are kept. Rank 0 writes; None without a
    checkpoint directory."""
    ckpt = context.get("checkpoint_dir")
    if not ckpt:
        return None
    path = os.path.join(ckpt, SUMMARY_FILE)
    if distributed.rank() == 0:
        os.makedirs(ckpt, exist_ok=True)
        runs = [r for r in _read_runs(path) if r.get("id") != context.get("run_id")]
        runs.append({"id": context.get("run_id"), "run_file": context.get("run_file_path"),
                     "workspace": context.get("workspace"), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "entries": context.get("results", []), "outputs": context.get("outputs", {})})
        with open(f"{path}.part", "w", encoding="utf-8") as f:
            json.dump({"runs": runs}, f, indent=1, default=_plain)
        os.replace(f"{path}.part", path)
    return path


def _read_runs(path: str) -> list[dict]:
    if not os.path.isfile(path):
        return []
    try:
        with open(path, encoding="utf-8") as f:
            runs = json.load(f).get("runs", [])
    except (OSError, ValueError, AttributeError):
        log("WARNING", f"{path} is unreadable; it is written afresh with this run", level=30)
        return []
    return [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []


class Terminal(TerminalBase):
    """After each entry: for a single-label classifier, the confusion matrix of every split the
    entry evaluated (`confusion_matrix: false` turns it off); the export a train entry's
    `export_dir` asks for; with `keep_step_checkpoints: false`, the step checkpoints removed
    (best_model/ stays); then `run_summary.json` and one log line per result."""

    def terminal(self, context: Context) -> None:
        entry = context["runner"]
        task = context.get("task")
        if task is not None and entry.get("confusion_matrix", True) and is_single_label_classifier(task):
            self.confusions(context)
        if entry["class"] == "train" and entry.get("export_dir"):
            export(context, entry["export_dir"], overwrite=bool(entry.get("overwrite")))
        if entry["class"] == "train" and entry.get("keep_step_checkpoints") is False:
            self.clean_up(context)
        write_summary(context)
        distributed.barrier()
        for record in context["results"][-1:]:
            shown = {k: v for k, v in record.items() if k not in ("runner", "class")}
            log("INFO", f"{record['runner']} ({record['class']}) done: {json.dumps(shown, default=_plain)}")

    def confusions(self, context: Context) -> None:
        task, reader, ckpt = context["task"], context.get("reader"), context.get("checkpoint_dir")
        if reader is None or not ckpt or not hasattr(reader, "get_dataset"):
            return
        dataset = context.get("dataset")
        labels = dataset.get_labels() if dataset is not None else None
        for phase in context.get("evaluated", []):
            split = reader.get_dataset(phase)
            if split is None or len(split) == 0:
                continue
            matrix = confusion_matrix(task, split, task.config.batch_size)
            path = os.path.join(ckpt, f"confusion_{phase}.json")
            if distributed.rank() == 0:
                write_confusion(path, phase, matrix, labels)
            context["outputs"][f"confusion_{phase}"] = path

    def clean_up(self, context: Context) -> None:
        ckpt = context.get("checkpoint_dir")
        if not ckpt or distributed.rank() != 0:
            return
        steps = CheckpointManager(ckpt).steps()
        for path in steps:
            shutil.rmtree(path, ignore_errors=True)
        if steps:
            log("INFO", f"Removed {len(steps)} step checkpoint(s) from {ckpt} (keep_step_checkpoints: false)")
