"""Delimited text files read row by row, each row remembering its line, and column layouts that
say which cell is which field. Errors name the file and line and say how to fix them."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence, Union

__all__ = ["TableError", "Row", "Layout", "read_text", "iter_rows", "resolve_columns", "infer_layout",
           "row_problem", "HEADER_NAMES", "looks_like_header"]

Column = Union[int, str]

# Column names a header line is made of (compared without case): a first row of only these is a header.
HEADER_NAMES = frozenset({"text", "text_a", "text_b", "label", "labels", "sentence", "sentence1", "sentence2",
                          "query", "question", "title", "content", "document", "guid", "id", "qid"})


class TableError(ValueError):
    """A data file that cannot be read as the table it should be; the message names file and line."""


@dataclass
class Row:
    line: int
    cells: list

    def where(self, path: str) -> str:
        return f"{path}:{self.line}"


def read_text(path: str, encoding: str = "utf-8") -> str:
    """The file's text (a UTF-8 byte-order mark dropped); undecodable bytes name their line."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding)
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise TableError(f"{path}:{line}: bytes that are not {encoding} ({e.reason}); save the file as "
                         f"{encoding}.") from None


def iter_rows(path: str, delimiter: str = "\t", encoding: str = "utf-8") -> Iterator[Row]:
    """Non-blank rows split on `delimiter`. Tab and multi-character delimiters split plainly (a
    quote is text); a one-character delimiter other than tab reads as CSV, quotes honoured."""
    text = read_text(path, encoding)
    if len(delimiter) == 1 and delimiter != "\t":
        yield from _csv_rows(text, delimiter)
        return
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield Row(number, line.split(delimiter))


def _csv_rows(text: str, delimiter: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            yield Row(start, cells)
        start = reader.line_num + 1


@dataclass
class Layout:
    """Where each field is in a row. `fields` maps a field name (text_a, text_b, label, guid) to a
    column index, or for multi-label flags to a list of indices; `width` is the exact number of
    columns every row must have (None: at least `min_width`)."""

    fields: dict
    width: Optional[int] = None
    names: Sequence[str] = ()
    extra: dict = field(default_factory=dict)
    first_line: int = 0

    @property
    def min_width(self) -> int:
        needed = 0
        for index in self.fields.values():
            for i in (index if isinstance(index, list) else [index]):
                needed = max(needed, i + 1 if i >= 0 else -i)
        return needed

    def check(self, row: Row, path: str, delimiter: str) -> None:
        found = len(row.cells)
        if self.width is not None and found == self.width:
            return
        if self.width is None and found >= self.min_width:
            return
        sep = "tab" if delimiter == "\t" else repr(delimiter)
        expected = f"{self.width}" if self.width is not None else f"at least {self.min_width}"
        names = f" ({', '.join(self.names)})" if self.names else ""
        seen = f" as on line {self.first_line}" if self.first_line else ""
        cause = row_problem(row, delimiter, self.width) or \
            f"a {sep} inside a text is a likely cause: replace it with a space"
        raise TableError(f"{row.where(path)}: expected {expected} {sep}-separated columns{names}{seen}, found "
                         f"{found}; {cause}.")


def row_problem(row: Row, delimiter: str, width: Optional[int] = None) -> Optional[str]:
    """What is wrong with a row whose column count is off, when it can be told: no delimiter at
    all (a space-separated row), or a delimiter at the end (an empty last column)."""
    sep = "tab" if delimiter == "\t" else repr(delimiter)
    if len(row.cells) == 1:
        spaced = " (it looks space-separated)" if len(row.cells[0].split()) > 1 else ""
        return f"the row has no {sep} at all{spaced}: separate the columns with one {sep} each"
    if row.cells[-1].strip() == "" and (width is None or len(row.cells) == width + 1):
        return f"the row ends with a {sep} (its last column is empty): remove the trailing {sep}"
    return None


def looks_like_header(cells: Sequence[str], labels: Optional[Sequence] = None) -> bool:
    """A row made only of column names (text_a, label, ...), none of them one of `labels`."""
    names = [cell.strip() for cell in cells]
    known = {str(label) for label in labels} if labels else set()
    return all(name.lower() in HEADER_NAMES for name in names) and not any(name in known for name in names)


def resolve_columns(columns: dict, header: Optional[Sequence[str]], path: str, header_line: int) -> dict:
    """Field -> index from `columns` whose values are indices or header names."""
    resolved = {}
    for name, column in columns.items():
        if column is None:
            continue
        resolved[name] = [_index_of(c, header, path, header_line) for c in column] if isinstance(column, list) \
            else _index_of(column, header, path, header_line)
    return resolved


def _index_of(column: Column, header: Optional[Sequence[str]], path: str, header_line: int) -> int:
    if isinstance(column, int):
        return column
    if header is None:
        raise TableError(f"{path}: column {column!r} is named, but the file is read without a header; "
                         f"pass *_with_header=True or give the column's index.")
    if column not in header:
        raise TableError(f"{path}:{header_line}: the header has no column {column!r} (it has "
                         f"{', '.join(repr(h) for h in header)}); rename the column or fix the header.")
    return list(header).index(column)


# The layouts PaddleHub's text files had, by number of columns.
_LABELLED = {2: ("text_a", "label"), 3: ("text_a", "text_b", "label")}
_UNLABELLED = {1: ("text_a",), 2: ("text_a", "text_b")}


def infer_layout(width: int, labelled: bool, path: str, line: int, delimiter: str = "\t",
                 row: Optional[Row] = None) -> Layout:
    """text_a[, text_b], label (or no label in a predict file) from the number of columns (of
    `row`, the first one, when given: its cells say more about a count that is off)."""
    shapes = _LABELLED if labelled else _UNLABELLED
    problem = row_problem(row, delimiter) if row is not None and len(row.cells) == width else None
    if width not in shapes or (problem and "ends with" in problem):
        sep = "tab" if delimiter == "\t" else repr(delimiter)
        options = " or ".join(f"{n} ({', '.join(names)})" for n, names in shapes.items())
        hint = " a predict file has no label column;" if not labelled else ""
        cause = problem or f"a {sep} inside a text is a likely cause"
        raise TableError(f"{path}:{line}: found {width} {sep}-separated columns; expected {options};{hint} "
                         f"{cause}.")
    names = shapes[width]
    return Layout({name: i for i, name in enumerate(names)}, width=width, names=names, first_line=line)
