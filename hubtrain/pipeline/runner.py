"""The default runner stage: train, evaluate, predict or export, by the entry's `class`."""
from __future__ import annotations

import os
import shutil
import time
from typing import Any

from ..engine import distributed
from ..engine.report import log
from .errors import RunFileError
from ..export.metadata import is_export_dir
from ..export.onnx import DEFAULT_OPSET
from .stages import Context, RunnerBase

__all__ = ["Runner", "has_split", "export"]


def has_split(dataset: Any, phase: str) -> bool:
    """Whether a hub.dataset-style dataset has a non-empty `phase` split (False for other objects)."""
    if not hasattr(dataset, "has_split") or not hasattr(dataset, "get_examples"):
        return False
    return dataset.has_split(phase) and len(dataset.get_examples(phase)) > 0


class Runner(RunnerBase):
    """Runs the entry through the task API and appends a record of it to `context["results"]`;
    splits it evaluated go to `context["evaluated"]`, files it wrote to `context["outputs"]`."""

    def run(self, context: Context) -> None:
        entry = context["runner"]
        begin = time.time()
        record = getattr(self, f"_{entry['class']}")(context)
        record = dict({"runner": entry["name"], "class": entry["class"]}, **record,
                      seconds=round(time.time() - begin, 3))
        context["results"].append(record)

    # ------------------------------------------------------------------ the four classes
    def _train(self, context: Context) -> dict:
        task, dataset, entry = context["task"], context["dataset"], context["runner"]
        splits = [p for p in ("dev", "test") if has_split(dataset, p)] if entry.get("evaluate", True) else []
        if splits:
            task.finetune_and_eval()
        else:
            task.finetune()
        context["evaluated"] = splits
        context["weights"] = f"runner[{context['runner_index']}] '{entry['name']}' (train)"
        state = task.train_state
        record: dict = {"steps": state.global_step, "epoch": state.epoch}
        if state.best_metric is not None:
            record["best"] = {"metric": state.best_metric, "score": state.best_score, "step": state.best_step}
        for phase in splits:
            result = task.last_result(phase)
            if result:
                record[phase] = dict(result)
        return record

    def _evaluate(self, context: Context) -> dict:
        task, dataset, entry = context["task"], context["dataset"], context["runner"]
        where = f"runner[{context['runner_index']}].phases"
        phases = entry.get("phases") or [p for p in ("dev", "test") if has_split(dataset, p)]
        if not phases:
            raise RunFileError(where, "the dataset has no dev or test split: name the splits to evaluate, "
                                      "e.g. phases: [train].")
        for phase in phases:
            if not has_split(dataset, phase):
                raise RunFileError(where, f"the dataset has no '{phase}' split (it has "
                                          f"{[p for p in ('train', 'dev', 'test') if has_split(dataset, p)]}).")
        record: dict = {}
        for i, phase in enumerate(phases):
            task.eval(phase=phase, load_best_model=bool(entry.get("load_best_model")) and i == 0)
            record[phase] = dict(task.last_result(phase) or {})
        context["evaluated"] = list(phases)
        return record

    def _predict(self, context: Context) -> dict:
        task, dataset, entry = context["task"], context["dataset"], context["runner"]
        if entry.get("input_file"):
            from ..export.commands import read_examples

            kind = "image" if getattr(context.get("module"), "kind", "text") == "vision" else "text"
            examples = [example for example, _ in read_examples(entry["input_file"], kind)]
            label = "input"
        else:
            phase = entry.get("phase") or ("predict" if has_split(dataset, "predict") else "test")
            if not has_split(dataset, phase):
                raise RunFileError(f"runner[{context['runner_index']}].phase",
                                   f"the dataset has no '{phase}' split to predict: name one with phase: or give "
                                   f"input_file:.")
            examples = dataset.get_examples(phase)
            label = phase
        output = entry.get("output_file") or os.path.join(context["checkpoint_dir"], f"predictions_{label}.jsonl")
        path = task.predict(data=examples, output_file=output, load_best_model=False)
        context["outputs"]["predictions"] = path
        log("INFO", f"Predictions for {len(examples)} examples written to {path}")
        return {"output_file": path, "count": len(examples)}

    def _export(self, context: Context) -> dict:
        entry = context["runner"]
        return export(context, entry.get("export_dir"), entry.get("onnx"), entry.get("opset", DEFAULT_OPSET),
                      entry.get("postprocess", True), bool(entry.get("overwrite")))


def export(context: Context, export_dir: Any, onnx: Any = None, opset: int = DEFAULT_OPSET, postprocess: bool = True,
           overwrite: bool = False) -> dict:
    """`task.export` to `export_dir` (default `<checkpoint_dir>/export`), then ONNX when asked.
    With `overwrite`, a directory there that is not a hubtrain export is removed first (the run
    file's entry said `overwrite: true`; without it the run file's check refused it)."""
    export_dir = export_dir or os.path.join(context["checkpoint_dir"], "export")
    if overwrite and distributed.rank() == 0 and os.path.isdir(export_dir) and not is_export_dir(export_dir):
        shutil.rmtree(export_dir)
        log("INFO", f"Removed {export_dir} to export there (overwrite: true)")
    distributed.barrier()
    path = context["task"].export(export_dir, postprocess=postprocess)
    context["outputs"]["export"] = path
    record: dict = {"export_dir": path}
    log("INFO", f"Exported the task to {path}")
    if onnx:
        from ..export import to_onnx

        if distributed.rank() == 0:
            to_onnx(path, onnx, opset=opset)
            log("INFO", f"Wrote {onnx}")
        distributed.barrier()
        context["outputs"]["onnx"] = os.path.abspath(onnx)
        record["onnx"] = os.path.abspath(onnx)
    return record
