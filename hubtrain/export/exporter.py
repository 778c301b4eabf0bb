"""`task.export(path)`: the network as a static inference model (`paddle.jit.save`), with the
task's postprocessing on top when it traces, plus a description of inputs, outputs, labels and
preprocessing; written under a temporary name and renamed into place when whole."""
from __future__ import annotations

import contextlib
import datetime
import inspect
import os
import re
import shutil
import tempfile
from typing import TYPE_CHECKING, Any, Iterator, Optional

import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..compat import paddle_private
from ..tasks.net import with_signature
from .metadata import FORMAT, FORMAT_VERSION, is_export_dir, output_meaning, write_metadata
from .preprocessing import describe_reader, save_tokenizer

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["export_task", "task_kind", "export_input_specs", "postprocess_name"]

_MODEL_PREFIX = "model"


class _InferenceNet(nn.Layer):
    """The task's network, then (optionally) its postprocessing; fed the named inputs."""

    def __init__(self, network: nn.Layer, postprocess: Any, input_names: list[str]) -> None:
        super().__init__()
        self.network = network
        self._postprocess = postprocess
        params = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in input_names]
        # jit.save reads the inputs from forward's signature; show the task's input names.
        self.forward = with_signature(_InferenceNet.forward, self, params)

    def forward(self, *inputs: paddle.Tensor) -> Any:
        outputs = self.network(*inputs)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        if self._postprocess is None:
            return outputs
        return list(self._postprocess(outputs))


def task_kind(task: "BaseTask") -> str:
    """Which kind of head the task has, for naming outputs and turning them into predictions."""
    from ..tasks import (ClassifierTask, MultiLabelClassifierTask, ReadingComprehensionTask, RegressionTask,
                         SequenceLabelTask)

    for cls, kind in ((MultiLabelClassifierTask, "multi_label"), (ClassifierTask, "classifier"),
                      (RegressionTask, "regression"), (SequenceLabelTask, "sequence_label"),
                      (ReadingComprehensionTask, "reading_comprehension")):
        if isinstance(task, cls):
            return kind
    return "other"


def _dims(shape: Any) -> list:
    """A shape with free dimensions as None (InputSpec keeps them as -1)."""
    return [None if d is None or d < 0 else int(d) for d in shape]


def _dtype_name(dtype: Any) -> str:
    from paddle.base.data_feeder import convert_dtype

    return convert_dtype(dtype)


def _reader_specs(task: "BaseTask", pre: dict) -> Optional[list[InputSpec]]:
    """Input specs read off the task's reader (`pre`: its description), when the task has not
    seen a batch yet."""
    names = task.input_names
    if pre["kind"] == "text" and len(names) == len(pre["fields"]):
        return [InputSpec([None] if field == "seq_len" else [None, None], "int64", name)
                for name, field in zip(names, pre["fields"])]
    if pre["kind"] == "image" and len(names) == 1:
        return [InputSpec([None, 3, pre["image_height"], pre["image_width"]], "float32", names[0])]
    return None


def export_input_specs(task: "BaseTask", preprocessing: Optional[dict] = None) -> list[InputSpec]:
    """The network's inputs with the batch dimension free (and the token dimension, for text).
    `preprocessing` is the reader's description, when the caller has it already."""
    pre = preprocessing if preprocessing is not None else describe_reader(task.data_reader)
    known = paddle_private.input_shapes_known(task) and paddle_private.input_specs(task)
    specs = paddle_private.input_specs(task) if known else _reader_specs(task, pre)
    if not specs:
        raise ValueError(f"{type(task).__name__}: the network's input shapes are not known yet, so it cannot be "
                         f"exported: run one batch first (finetune, eval or predict), or build the task with "
                         f"inputs=[paddle.static.InputSpec(...)] (a hub.Module's feature carries them) or with a "
                         f"data_reader (hub.reader.ClassifyReader, ImageClassificationReader, ...).")
    text = pre["kind"] == "text"
    out = []
    for spec in specs:
        shape = _dims(spec.shape)
        if shape:
            shape[0] = None
        if text and len(shape) >= 2:
            shape[1] = None
        out.append(InputSpec(shape, _dtype_name(spec.dtype), spec.name))
    return out


@contextlib.contextmanager
def _eval_mode(network: nn.Layer) -> Iterator[None]:
    was_training = network.training
    network.eval()
    try:
        yield
    finally:
        if was_training:
            network.train()


def _summary(error: BaseException) -> str:
    """The line of an error that says what went wrong: paddle.jit's errors open with the
    transformed code and end with the original error."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"\w*(Error|Exception)\b", line)]
    line = errors[-1] if errors else (lines[0] if lines else "")
    return line if errors else f"{type(error).__name__}: {line}"


def _save(layer: nn.Layer, directory: str, specs: list[InputSpec]) -> dict:
    """jit.save into `directory`; the names of the files it wrote (PIR: .json, old IR: .pdmodel)."""
    prefix = os.path.join(directory, _MODEL_PREFIX)
    paddle.jit.save(layer, prefix, input_spec=specs)
    program = next((prefix + ext for ext in (".json", ".pdmodel") if os.path.isfile(prefix + ext)), None)
    params = prefix + ".pdiparams"
    if program is None or not os.path.isfile(params):
        raise RuntimeError(f"paddle.jit.save wrote {sorted(os.listdir(directory))} into {directory}, without the "
                           f"program (.json or .pdmodel) and parameters (.pdiparams) an export needs.")
    return {"program": os.path.basename(program), "params": os.path.basename(params)}


def _clear(directory: str) -> None:
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)


def postprocess_name(task: "BaseTask") -> str:
    """What the task's `_postprocess` is: a built-in one by name, else "custom"."""
    from ..tasks import BaseTask, ClassifierTask, MultiLabelClassifierTask, SequenceLabelTask

    known = {BaseTask._postprocess: "identity", ClassifierTask._postprocess: "softmax",
             MultiLabelClassifierTask._postprocess: "sigmoid",
             SequenceLabelTask._postprocess: "select tag_ids and seq_len"}
    return known.get(type(task)._postprocess, "custom")


def _save_model(task: "BaseTask", directory: str, specs: list[InputSpec], postprocess: bool) -> tuple:
    """Save the network with its postprocessing when asked for and traceable, else the network
    alone; returns (the saved layer, files, postprocess record)."""
    names = [s.name for s in specs]
    function = postprocess_name(task)
    record: dict = {"function": function}
    if postprocess and function != "identity":
        layer = _InferenceNet(task.network, task._postprocess, names)
        try:
            return layer, _save(layer, directory, specs), dict(record, included=True)
        except Exception as e:  # tracing runs the task's own code; fall back to the raw outputs
            reason = _summary(e)
            _clear(directory)
        record.update(included=False, reason=f"the task's _postprocess does not trace with paddle.jit ({reason}); "
                                             f"the raw network outputs were exported")
    elif function == "identity":
        record.update(included=True, note="the task reports the network's outputs unchanged")
    else:
        record.update(included=False, reason="export(postprocess=False): the raw network outputs were exported")
    layer = _InferenceNet(task.network, None, names)
    try:
        return layer, _save(layer, directory, specs), record
    except Exception as e:
        raise RuntimeError(f"{type(task).__name__}: paddle.jit.save could not trace the network ({_summary(e)}); "
                           f"every step of the forward must be paddle tensor operations.") from e


def _probe_inputs(specs: list[InputSpec], steps: int) -> list[paddle.Tensor]:
    """A batch of 2 valid-looking inputs, `steps` tokens long where the length is free."""
    fakes = []
    for spec in specs:
        shape = [2 if i == 0 else (steps if d is None or d < 0 else d) for i, d in enumerate(spec.shape)]
        if spec.name == "position_ids" and len(shape) == 2:
            value = paddle.arange(shape[1], dtype="int64").unsqueeze(0).tile([shape[0], 1])
        elif spec.name in ("input_mask", "seq_len"):
            value = paddle.full(shape, 1 if spec.name == "input_mask" else steps, dtype=spec.dtype)
        else:
            value = paddle.zeros(shape, dtype=spec.dtype)
        fakes.append(value)
    return fakes


def _describe_outputs(task: "BaseTask", layer: nn.Layer, specs: list[InputSpec], included: bool,
                      kind: str, text: bool) -> list[dict]:
    """Name, meaning and shape of each output; `per_token` when its second axis is the token axis
    (seen on two probe batches of different lengths), so predictions can drop the padding."""
    shapes = []
    with paddle.no_grad():
        for steps in ((5, 7) if text else (1,)):
            outputs = layer(*_probe_inputs(specs, steps))
            shapes.append([list(o.shape) for o in outputs])
    names = list((task.predict_output_names or task.output_names) if included else task.output_names)
    described = []
    for i, shape in enumerate(shapes[0]):
        name = names[i] if i < len(names) else f"output_{i}"
        per_token = text and len(shape) >= 2 and shape[1] == 5 and shapes[1][i][1] == 7
        dims: list = [None] + shape[1:]
        if per_token:
            dims[1] = None
        described.append({"name": name, "index": i, "meaning": output_meaning(kind, name, i), "shape": dims,
                          "per_token": per_token})
    return described


def _task_record(task: "BaseTask", kind: str) -> dict:
    record = {"class": type(task).__name__, "module": type(task).__module__, "kind": kind}
    if kind == "sequence_label":
        record["with_cls_sep"] = bool(task.with_cls_sep)  # tag_ids[0] and tag_ids[seq_len - 1] are [CLS], [SEP]
    return record


def _labels(task: "BaseTask") -> Optional[list]:
    dataset = getattr(task.data_reader, "dataset", None)
    if dataset is not None and hasattr(dataset, "get_labels"):
        labels = list(dataset.get_labels())
        if labels:
            return labels
    labels = getattr(task, "label_list", None)
    return list(labels) if labels else None


def _check_target(path: str) -> None:
    if os.path.isfile(path) or os.path.islink(path):
        raise FileExistsError(f"{path} is a file; export writes a directory: choose another path.")
    if os.path.isdir(path) and os.listdir(path) and not is_export_dir(path):
        raise FileExistsError(f"{path} exists and is not a hubtrain export (no hubtrain_export.json): refusing "
                              f"to replace it; choose a new or empty directory, or remove it first.")


def _replace(tmp: str, path: str) -> None:
    """Move the finished export into place; an export already there is replaced whole."""
    if not os.path.exists(path):
        os.rename(tmp, path)
        return
    if not os.listdir(path):
        os.rmdir(path)
        os.rename(tmp, path)
        return
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=os.path.dirname(path))
    os.rmdir(old)
    os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def export_task(task: "BaseTask", path: str, *, postprocess: bool = True) -> str:
    """See BaseTask.export. Returns the export directory's absolute path."""
    from .. import __version__

    path = os.path.abspath(os.fspath(path))
    _check_target(path)
    reader = task.data_reader
    preprocessing = describe_reader(reader)
    specs = export_input_specs(task, preprocessing)
    text = preprocessing["kind"] == "text"
    kind = task_kind(task)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    try:
        with _eval_mode(task.network):
            layer, files, record = _save_model(task, tmp, specs, postprocess)
            outputs = _describe_outputs(task, layer, specs, record["included"], kind, text)
        if text:
            save_tokenizer(reader, tmp)
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "hubtrain_version": __version__,
            "paddle_version": paddle.__version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "task": _task_record(task, kind),
            "model": files,
            "inputs": [{"name": s.name, "dtype": _dtype_name(s.dtype), "shape": _dims(s.shape)} for s in specs],
            "outputs": outputs, "postprocess": record, "labels": _labels(task), "preprocessing": preprocessing,
        }
        write_metadata(tmp, meta)
        _replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
