"""Running a run file: read and check it, then for each runner entry the five stages in order,
sharing one context."""
from __future__ import annotations

import os
import time
from typing import Any, Iterable, Optional

from ..engine import distributed
from ..engine.report import log
from .classes import load_stage_class
from .errors import RunFileError
from .paths import inside
from .runfile import apply_overrides, expand_workspace, read_yaml, resolve_workspace
from .schema import EntrySpec, RunSpec, _Checker, validate
from .stages import STAGE_METHODS, STAGES, Context

__all__ = ["load_run", "load_stage_classes", "new_context", "run_pipeline", "run_entry", "StageError"]


class StageError(RuntimeError):
    """A stage that failed while running: names the entry, the stage and its class; the
    original exception is the cause."""

    def __init__(self, entry: EntrySpec, stage: str, cls: type, error: BaseException) -> None:
        self.entry, self.stage, self.stage_class, self.error = entry, stage, cls, error
        super().__init__(f"runner[{entry.index}] '{entry.name}' ({entry.kind}), {stage} stage "
                         f"({cls.__module__}.{cls.__qualname__}): {type(error).__name__}: {error}")


def load_run(source: str | dict, overrides: Iterable[Any] = (), allow_outside_workspace: bool = False,
             name: Optional[str] = None, workspace: Optional[str] = None) -> RunSpec:
    """A checked run, nothing run or imported: `source` is a YAML file's path or a run built in
    memory (a dict, e.g. by `hubtrain train`); `overrides` are `KEY.PATH=VALUE` strings or
    (path, value) pairs; `name` names a dict in error messages. The workspace is `workspace`, else
    the YAML file's folder (else a dict's `workspace` key, else the current directory); every path
    a YAML file names must lie inside it unless `allow_outside_workspace`. A dict is the calling
    program's own: its paths are not confined."""
    if isinstance(source, dict):
        data, lines, name, path = dict(source), {}, name or "run file", None
    else:
        path = os.path.abspath(source)
        data, lines = read_yaml(path)
        name = source
    try:
        data, changed = apply_overrides(data, overrides)
        lines = dict(lines, **{key: "--set" for key in changed})
        where = resolve_workspace(data, path, workspace)
        data = expand_workspace(data, where)
        outside = allow_outside_workspace or path is None
        spec = validate(data, where, source=name, lines=lines, allow_outside_workspace=outside)
        spec.path = path
        return spec
    except RunFileError as e:
        raise (e if e.source else _Checker(name, lines).fail(e.key_path, e.problem)) from None


def load_stage_classes(spec: RunSpec) -> None:
    """Import every `*_class_path` file of the run (checked, not yet run, by load_run) and put
    its class in its entry; called when the run starts, before any stage runs."""
    for entry in spec.entries:
        for stage, path in entry.stage_files.items():
            if spec.confined and not inside(path, spec.workspace):  # changed since it was checked
                raise located(spec, RunFileError(f"runner[{entry.index}].{stage}_class_path",
                                                 f"{path} now resolves to {os.path.realpath(path)}, outside the "
                                                 f"workspace {spec.workspace}: it is not imported."))
            try:
                entry.stage_classes[stage] = load_stage_class(stage, path, f"runner[{entry.index}].{stage}_class_path")
            except RunFileError as e:
                raise located(spec, e) from None


def new_context(spec: RunSpec) -> Context:
    return {"run_id": f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}", "run_file": spec.data,
            "run_file_path": spec.path, "workspace": spec.workspace, "checkpoint_dir": spec.checkpoint_dir,
            "stages": [], "results": [],
            "outputs": {}, "evaluated": [], "rank": distributed.rank(), "world_size": distributed.world_size()}


def _stage_index(status: Any) -> Optional[int]:
    if isinstance(status, str) and status.endswith("_pass") and status[:-5] in STAGES:
        return STAGES.index(status[:-5])
    return None


def run_entry(context: Context, entry: EntrySpec) -> None:
    """The five stages of one entry, in order (a stage may skip ahead through context["status"])."""
    context.update(runner_index=entry.index, runner_name=entry.name, runner=entry.options, config=entry.config,
                   evaluated=[])
    i = 0
    while i < len(STAGES):
        stage = STAGES[i]
        cls = entry.stage_classes[stage]
        context["status"] = f"{stage}_pass"
        try:
            getattr(cls(context), STAGE_METHODS[stage])(context)
        except RunFileError:
            raise
        except Exception as e:  # named with its entry and stage; the original is the cause
            raise StageError(entry, stage, cls, e) from e
        context["stages"].append({"runner": entry.name, "stage": stage,
                                  "class": f"{cls.__module__}.{cls.__qualname__}"})
        after = _stage_index(context.get("status"))
        if after is None:
            raise StageError(entry, stage, cls, ValueError(
                f"context['status'] = {context.get('status')!r}: set it to one of "
                f"{[s + '_pass' for s in STAGES]}, or leave it alone."))
        if after < i:
            raise StageError(entry, stage, cls, ValueError(
                f"context['status'] = {context['status']!r} goes back to an earlier stage; a stage may only skip "
                f"ahead."))
        i = after if after > i else i + 1


def run_pipeline(source: str | dict | RunSpec, overrides: Iterable[Any] = (), allow_outside_workspace: bool = False,
                 context: Optional[Context] = None, workspace: Optional[str] = None) -> Context:
    """Run every runner entry of a run file in order; returns the context (task, results, outputs).
    `workspace` replaces the run file's folder as the workspace (see load_run). Raises
    RunFileError for a run file that cannot be used (before anything runs, or when a value it
    names is refused), StageError when a stage fails."""
    spec = source if isinstance(source, RunSpec) else load_run(source, overrides, allow_outside_workspace,
                                                               workspace=workspace)
    load_stage_classes(spec)
    ctx = new_context(spec)
    if context:
        ctx.update(context)
    for entry in spec.entries:
        log("INFO", f"runner[{entry.index}] '{entry.name}' ({entry.kind}) start")
        try:
            run_entry(ctx, entry)
        except RunFileError as e:
            raise (e if e.source else located(spec, e)) from None
    return ctx


def located(spec: RunSpec, error: RunFileError) -> RunFileError:
    """A run-time RunFileError given the run file and the line of its key, as validation's are."""
    return _Checker(spec.source or "run file", spec.lines).fail(error.key_path, error.problem)
