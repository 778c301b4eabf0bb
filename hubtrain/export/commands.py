"""`hubtrain export` (an export directory to ONNX) and `hubtrain predict` (raw examples from a
file, one JSON line per example, streamed a batch at a time)."""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import tempfile
from typing import IO, Any, Iterator, Optional

__all__ = ["onnx_command", "predict_command", "read_examples"]


def onnx_command(export_dir: str, onnx_path: str, opset: int) -> int:
    from .onnx import to_onnx

    path = to_onnx(export_dir, onnx_path, opset=opset)
    print(f"wrote {path}")
    return 0


def _example(line: str, kind: str, where: str, folder: str) -> Any:
    if kind == "text":
        fields = line.split("\t")
        if len(fields) > 2:
            raise ValueError(f"{where}: {len(fields)} tab-separated fields; a line is one text, or text_a<TAB>text_b.")
        return fields[0] if len(fields) == 1 else fields
    path = line.strip()
    if not path:
        raise ValueError(f"{where}: empty line; write one image path per line.")
    if not os.path.isabs(path) and not os.path.exists(path) and os.path.exists(os.path.join(folder, path)):
        path = os.path.join(folder, path)
    return path


def read_examples(input_path: str, kind: str) -> Iterator[tuple[Any, str]]:
    """(example, "file:line") per line of `input_path`: a text, text_a<TAB>text_b, or an image
    path (relative paths from the current directory, else from the file's folder)."""
    if kind not in ("text", "image"):
        raise ValueError(f"this export has no text or image reader, so its examples cannot be read from lines of "
                         f"{input_path}; feed arrays to hub.Predictor in Python instead.")
    if not os.path.isfile(input_path):
        raise FileNotFoundError(f"{input_path}: input file not found; give a file with one example per line.")
    folder = os.path.dirname(os.path.abspath(input_path))
    with open(input_path, encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            where = f"{input_path}:{number}"
            yield _example(raw.rstrip("\r\n"), kind, where, folder), where


@contextlib.contextmanager
def _stdout_for_results() -> Iterator[IO[str]]:
    """The real stdout for the JSON lines, with everything else printed meanwhile (log lines,
    native libraries' messages) sent to stderr, so stdout holds nothing but results."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(os.dup(saved), "w", encoding="utf-8")
    try:
        yield out
    finally:
        out.close()
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _file_for_results(path: str) -> Iterator[IO[str]]:
    """`path`, written under a temporary name and renamed when every example is done."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yield out
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def predict_command(export_dir: str, input_path: str, output_path: Optional[str], batch_size: int,
                    num_threads: Optional[int]) -> int:
    from .predictor import Predictor

    predictor = Predictor(export_dir, batch_size=batch_size, num_threads=num_threads)
    examples = read_examples(input_path, predictor.encoder.kind)
    sink = _file_for_results(output_path) if output_path else _stdout_for_results()
    examples, sources = itertools.tee(examples)  # read in step: the lines are never all in memory
    with sink as out:
        for result in predictor.iter_predict((e for e, _ in examples), sources=(w for _, w in sources)):
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            out.flush()
    return 0
