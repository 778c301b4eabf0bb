"""`hubtrain predict`: raw examples read from a file, one JSON line per example, streamed a batch
at a time."""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import tempfile
from typing import IO, Any, Iterator, Optional, Sequence

__all__ = ["predict_command", "read_examples", "parse_columns", "IMAGE_COLUMNS"]


# Column names of image lists, besides the text column names a header line is made of.
IMAGE_COLUMNS = frozenset({"image", "image_path", "path", "file", "filename"})


def parse_columns(value: Optional[str], pairs: bool) -> Optional[list[int]]:
    """`--columns` ("1" or "1,2", counted from 1) as 0-based indexes, checked against what the model takes."""
    if value is None:
        return None
    try:
        columns = [int(part) - 1 for part in value.split(",")]
    except ValueError:
        columns = []
    if not columns or any(c < 0 for c in columns) or len(set(columns)) != len(columns):
        raise ValueError(f"--columns {value!r}: give the column numbers of the text, counted from 1: --columns 1 "
                         f"for one text, --columns 1,2 for a text pair.")
    most = 2 if pairs else 1
    if len(columns) > most:
        takes = "one text or a text pair" if pairs else "one text (no pairs)"
        raise ValueError(f"--columns {value}: this export's model takes {takes}, so name at most {most} "
                         f"column{'s' if most > 1 else ''}.")
    return columns


def _decode(raw: bytes, where: str, first: bool) -> str:
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); save the file as "
                         f"UTF-8 (e.g. iconv -f latin1 -t utf-8 IN > OUT) and give that file.") from None


def _looks_like_header(fields: list[str]) -> bool:
    from ..data.table import HEADER_NAMES

    return all(field.strip().lower() in HEADER_NAMES | IMAGE_COLUMNS for field in fields)


def _text(fields: list[str], where: str, pairs: bool, columns: Optional[list[int]], labels: Sequence[Any]) -> Any:
    """The text (or pair) of one line's tab-separated `fields`."""
    if columns is not None:
        if max(columns) >= len(fields):
            raise ValueError(f"{where}: {len(fields)} tab-separated field{'s' if len(fields) > 1 else ''}, but "
                             f"--columns names column {max(columns) + 1}; fix the line or --columns.")
        chosen = [fields[c] for c in columns]
        return chosen[0] if len(chosen) == 1 else chosen
    if len(fields) == 1:
        return fields[0]
    fix = "--columns 1 to read the first field as the text" + (", --columns 1,2 for a text pair" if pairs else "")
    if not pairs or len(fields) > 2:
        takes = "one text or text_a<TAB>text_b" if pairs else "one text per line (this model takes no pairs)"
        raise ValueError(f"{where}: {len(fields)} tab-separated fields; the model takes {takes}. Give {fix}.")
    if fields[1].strip() and fields[1].strip() in {str(label) for label in labels}:
        raise ValueError(f"{where}: the second field {fields[1].strip()!r} is one of the model's labels, so the line "
                         f"looks like text<TAB>label, not a text pair. Give {fix}.")
    return fields


def read_examples(input_path: str, kind: str, *, pairs: bool = True, columns: Optional[str] = None,
                  header: bool = False, labels: Optional[Sequence[Any]] = None) -> Iterator[tuple[Any, str]]:
    """(example, "file:line") per line of `input_path` (UTF-8): a text, text_a<TAB>text_b (when
    `pairs`), the `columns` ("1" or "1,2") of a tab-separated line, or an image path (relative
    paths from the current directory, else from the file's folder). `header` skips the first
    line; without it a first line made of column names (text_a<TAB>label) is refused."""
    if kind not in ("text", "image"):
        raise ValueError(f"this export has no text or image reader, so its examples cannot be read from lines of "
                         f"{input_path}; feed arrays to hub.Predictor in Python instead.")
    chosen = parse_columns(columns, pairs) if kind == "text" else None
    if columns is not None and kind != "text":
        raise ValueError(f"--columns {columns}: this export reads image paths, one per line; drop --columns.")
    if not os.path.isfile(input_path):
        raise FileNotFoundError(f"{input_path}: input file not found; give a file with one example per line.")
    folder = os.path.dirname(os.path.abspath(input_path))
    with open(input_path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            where = f"{input_path}:{number}"
            line = _decode(raw, where, number == 1)
            if number == 1 and header:
                continue
            fields = line.split("\t")
            if number == 1 and _looks_like_header(fields):
                raise ValueError(f"{where}: looks like a header line ({line.strip()!r:.80}), not an example; give "
                                 f"--header to skip the first line, or remove it.")
            if kind == "text":
                yield _text(fields, where, pairs, chosen, labels or ()), where
            else:
                yield _image(line, where, folder), where


def _image(line: str, where: str, folder: str) -> str:
    path = line.strip()
    if not path:
        raise ValueError(f"{where}: empty line; write one image path per line.")
    if not os.path.isabs(path) and not os.path.exists(path) and os.path.exists(os.path.join(folder, path)):
        path = os.path.join(folder, path)
    return path


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
                    num_threads: Optional[int], columns: Optional[str] = None, header: bool = False) -> int:
    from .predictor import Predictor

    predictor = Predictor(export_dir, batch_size=batch_size, num_threads=num_threads)
    encoder = predictor.encoder
    examples = read_examples(input_path, encoder.kind, pairs=getattr(encoder, "pairs", False), columns=columns,
                             header=header, labels=predictor.labels)
    first = next(examples, None)  # the file's first error is raised before any output is opened
    examples = itertools.chain([first] if first is not None else [], examples)
    sink = _file_for_results(output_path) if output_path else _stdout_for_results()
    examples, sources = itertools.tee(examples)  # read in step: the lines are never all in memory
    with sink as out:
        for result in predictor.iter_predict((e for e, _ in examples), sources=(w for _, w in sources)):
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            out.flush()
    return 0
