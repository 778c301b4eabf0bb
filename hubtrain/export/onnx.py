"""An export directory's model as ONNX, through paddle2onnx (which reads Paddle 3's PIR .json
program directly), with the graph's outputs named as in the export's description."""
from __future__ import annotations

import os
import tempfile
from typing import Any

from .metadata import read_metadata

__all__ = ["to_onnx", "DEFAULT_OPSET"]

DEFAULT_OPSET = 13


def _paddle2onnx() -> Any:
    try:
        import paddle2onnx
    except ImportError as e:
        raise ImportError(f"ONNX conversion needs paddle2onnx, which is not importable here ({e}); install it "
                          f"with: python -m pip install paddle2onnx==2.1.0") from None
    return paddle2onnx


def _name_outputs(path: str, names: list[str]) -> None:
    """Rename the graph's outputs (paddle2onnx calls them fetch_name_<i>) to the export's names."""
    import onnx

    model = onnx.load(path)
    graph = model.graph
    if len(graph.output) != len(names):
        return
    renames = {out.name: new for out, new in zip(graph.output, names) if out.name != new}
    taken = {v.name for v in graph.input} | {t.name for t in graph.initializer} | \
        {o for node in graph.node for o in node.output}
    if not renames or any(new in taken for new in renames.values()):
        return
    for node in graph.node:
        node.output[:] = [renames.get(o, o) for o in node.output]
        node.input[:] = [renames.get(i, i) for i in node.input]
    for out in graph.output:
        out.name = renames.get(out.name, out.name)
    onnx.save(model, path)


def to_onnx(export_dir: str, onnx_path: str, opset: int = DEFAULT_OPSET) -> str:
    """Convert the model of `export_dir` (written by `task.export`) to an ONNX file at
    `onnx_path`, written whole or not at all. paddle2onnx may raise `opset` when an operator
    needs a newer one. Returns the file's absolute path."""
    if not isinstance(opset, int) or isinstance(opset, bool) or opset < 7:
        raise ValueError(f"to_onnx: opset={opset!r} should be an ONNX opset number >= 7, e.g. {DEFAULT_OPSET}.")
    meta = read_metadata(export_dir)
    paddle2onnx = _paddle2onnx()
    onnx_path = os.path.abspath(os.fspath(onnx_path))
    if os.path.isdir(onnx_path):
        raise IsADirectoryError(f"{onnx_path} is a directory; give the ONNX file's path, e.g. {onnx_path}/model.onnx.")
    parent = os.path.dirname(onnx_path)
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(onnx_path)}.", suffix=".tmp", dir=parent)
    os.close(fd)
    model = os.path.join(os.fspath(export_dir), meta["model"]["program"])
    params = os.path.join(os.fspath(export_dir), meta["model"]["params"])
    try:
        try:
            # optimize_tool "none": paddle2onnx's default (polygraphy) may try to install packages.
            paddle2onnx.export(model, params, save_file=tmp, opset_version=opset, auto_upgrade_opset=True,
                               enable_onnx_checker=True, optimize_tool="none")
        except Exception as e:  # paddle2onnx logs its own error and then fails writing the result
            raise RuntimeError(f"paddle2onnx could not convert {model} ({type(e).__name__}: {e}); its log above "
                               f"names the operator it stopped at. Try a higher opset (e.g. opset=17).") from e
        if os.path.getsize(tmp) == 0:
            raise RuntimeError(f"paddle2onnx wrote nothing for {model}; its log above says why.")
        _name_outputs(tmp, [o["name"] for o in meta["outputs"]])
        os.replace(tmp, onnx_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return onnx_path
