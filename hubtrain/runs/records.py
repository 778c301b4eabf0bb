"""Encoded examples given to predict as dicts, as PaddleHub 1.8's tokenizers' `encode()` made them
(`{"input_ids": [...], "segment_ids": [...], "position_ids": [...], "input_mask": [...],
"seq_len": n}`), fed to a network by its input names and padded per batch. A record becomes
fields as a tokenized dataset's records do (data/records.py `record_fields`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, Sequence

import numpy as np
from paddle.io import Dataset

from ..data.records import TEXT_DEFAULTS, record_fields
from ..data.tokenization import pad_stack

__all__ = ["is_records", "RecordList", "PadRecords"]


def is_records(data: Any, input_names: Sequence[str]) -> bool:
    """Whether `data` is a list of dicts keyed by the network's input names (not raw examples
    such as `{"question": ..., "context": ...}`, which go to the task's reader)."""
    if not isinstance(data, (list, tuple)) or not data or not all(isinstance(r, Mapping) for r in data):
        return False
    return any(name in data[0] for name in input_names)


class RecordList(Dataset):
    """One dict per example, fed as the fields `names` in order. Keys the network does not take are
    ignored; a record missing a required name is refused before anything runs, naming it; a text
    backbone's `position_ids`, `segment_ids` and `input_mask` left out take their defaults. A
    record with `seq_len` shorter than its token lists (padded to max_seq_len by the tokenizer)
    has them cut to its real tokens."""

    def __init__(self, records: Sequence[Mapping], names: Sequence[str], required: Sequence[str],
                 pad_id: Optional[int] = 0) -> None:
        super().__init__()
        self.names = list(names)
        # what to feed: the names up to the last one any record gives, and every required one
        last = max([i for i, n in enumerate(self.names) if n in records[0] or n in required], default=0)
        self.fed = self.names[:last + 1]
        for i, record in enumerate(records):
            refused = [n for n in self.fed if n not in record and (n in required or n not in TEXT_DEFAULTS)]
            if refused:
                name = refused[0]
                raise ValueError(f"predict(data=...): record {i} has no {name!r}, which the network takes as input "
                                 f"(its inputs: {', '.join(self.names)}; the record has: "
                                 f"{', '.join(map(str, record)) or 'nothing'}). Give every record {name!r}, e.g. "
                                 f"from the tokenizer's encode() output.")
        self.records = [dict(r) for r in records]
        self.collate = PadRecords(self.fed, pad_id)

    def __getitem__(self, index: int) -> list:
        return record_fields(self.records[index], self.fed, f"predict(data=...): record {index}")

    def __len__(self) -> int:
        return len(self.records)


class PadRecords:
    """Stacks a batch's fields, padding each 1-D field to the batch's longest (the token ids with
    the padding id, the other fields with 0)."""

    def __init__(self, names: Sequence[str], pad_id: Optional[int] = 0) -> None:
        self.names = list(names)
        self.pad_id = 0 if pad_id is None else int(pad_id)

    def __call__(self, batch: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
        out = []
        for name, column in zip(self.names, zip(*batch)):
            if np.ndim(column[0]) == 1:
                out.append(pad_stack(column, self.pad_id if name == "input_ids" else 0))
            else:
                out.append(np.stack(column))
        return out
