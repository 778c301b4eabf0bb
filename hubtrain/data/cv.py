"""BaseCVDataset: image classification data as PaddleHub's list files.

Layout (PaddleHub's built-in archives use it; so may a user's own data)::

    base_path/
        train_list.txt       one "relative/path.jpg LABEL" per line
        validate_list.txt
        test_list.txt
        predict_list.txt     one image path per line, no label
        label_list.txt       one class name per line; line i names class i
        dog/0001.jpg ...

The image path and the label are separated by the last run of spaces or tabs on the line (so a
path may itself contain spaces, as PaddleHub allowed). LABEL is the class index into the label
list, an integer as PaddleHub wrote it (its reader fed `int64(label)` to the network). A class
name from the label list is accepted too, unless the token is an integer that names a different
class than the one at that index (label_list ["1", "0"] with label "0"): then it is an error.
Relative image paths are joined to `base_path` (to the list file's folder when there is no
base_path). Every image is checked to exist when a list file is read; decoding happens later, in
the reader. Blank lines are skipped.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from .base import BaseDataset
from .example import ImageExample, LabelError

__all__ = ["BaseCVDataset", "ListFileError"]

_MAX_LISTED = 5  # missing images named in one error


class ListFileError(ValueError):
    """A list file line that cannot be used; the message names the file and line."""


class BaseCVDataset(BaseDataset):
    """Images and labels from PaddleHub-style list files; subclass it and call
    `super().__init__(base_path=..., train_list_file=..., ..., label_list_file=...)`.
    `predict_list_file` is accepted as another name for `predict_file` (PaddleHub 1.x used it)."""

    def __init__(self, base_path: Optional[str] = None, train_list_file: Optional[str] = None,
                 validate_list_file: Optional[str] = None, test_list_file: Optional[str] = None,
                 predict_file: Optional[str] = None, label_list_file: Optional[str] = None,
                 label_list: Optional[Sequence[Any]] = None, predict_list_file: Optional[str] = None) -> None:
        if predict_file is not None and predict_list_file is not None and predict_file != predict_list_file:
            raise ValueError(f"{type(self).__name__}: predict_file={predict_file!r} and predict_list_file="
                             f"{predict_list_file!r} are the same setting; pass one of them.")
        predict_file = predict_file if predict_file is not None else predict_list_file
        labelled = [f for f in (train_list_file, validate_list_file, test_list_file) if f]
        if labelled and label_list is None and not label_list_file:
            raise ValueError(f"{type(self).__name__}: no label list for {', '.join(labelled)}; pass "
                             f"label_list_file='label_list.txt' (one class name per line) or "
                             f"label_list=[...] with the class names in index order.")
        if label_list is not None and len(label_list) == 0:
            raise ValueError(f"{type(self).__name__}: label_list is empty; give the class names in index order.")
        self.train_list_file, self.validate_list_file = train_list_file, validate_list_file
        self.test_list_file, self.predict_list_file = test_list_file, predict_file
        self.label_list_file = label_list_file
        super().__init__(base_path=base_path, train_file=train_list_file, dev_file=validate_list_file,
                         test_file=test_list_file, predict_file=predict_file, label_file=label_list_file,
                         label_list=label_list)

    # ---------------------------------------------------------------- list files
    def _read_file(self, path: str, phase: str) -> list[ImageExample]:
        root = self.base_path if self.base_path is not None else os.path.dirname(os.path.abspath(path))
        names = {str(name): i for i, name in enumerate(self.label_list or [])}
        examples: list[ImageExample] = []
        missing: list[str] = []
        with open(path, encoding="utf-8-sig") as f:
            for number, raw in enumerate(f, start=1):
                line = raw.strip()
                if not line:
                    continue
                source = f"{path}:{number}"
                if phase == "predict":
                    image, label = self._predict_path(line, root), None
                else:
                    parts = line.rsplit(None, 1)
                    if len(parts) < 2:
                        raise ListFileError(f"{source}: no label on the line {line!r}; write "
                                            f"'relative/path.jpg LABEL' with the class index after a space or tab.")
                    image, label = self._join(parts[0], root), self._label(parts[1], names, source)
                if not os.path.isfile(image):
                    missing.append(f"{source}: {image}")
                examples.append(ImageExample(image=image, label=label, source=source))
        if missing:
            shown = "\n  ".join(missing[:_MAX_LISTED])
            more = f"\n  ... and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
            raise FileNotFoundError(f"{path}: {len(missing)} listed image(s) not found:\n  {shown}{more}\n"
                                    f"Paths are relative to {root}; fix the list or put the images there.")
        if not examples:
            raise ListFileError(f"{path}: the list file is empty; write one 'relative/path.jpg LABEL' per line"
                                f"{' (paths only for predict)' if phase == 'predict' else ''}.")
        return examples

    @staticmethod
    def _join(image: str, root: str) -> str:
        return image if os.path.isabs(image) else os.path.join(root, image)

    def _predict_path(self, line: str, root: str) -> str:
        """The whole line is the path; a trailing label (a labelled list used for predict) is dropped
        when the line as a whole is not a file but the part before it is."""
        whole = self._join(line, root)
        if os.path.isfile(whole):
            return whole
        parts = line.rsplit(None, 1)
        if len(parts) == 2 and os.path.isfile(self._join(parts[0], root)):
            return self._join(parts[0], root)
        return whole

    def _label(self, token: str, names: dict, source: str) -> int:
        count = len(names)
        if token.lstrip("-").isdigit():
            index = int(token)
            by_name = names.get(token)
            in_range = 0 <= index < count
            if in_range and by_name is not None and by_name != index:
                raise LabelError(f"{source}: label {token!r} is ambiguous: class index {index} is "
                                 f"{self._name(index)!r} but {token!r} is also the name of class {by_name}. "
                                 f"List files give class indices; reorder label_list so names and indices agree.")
            if not in_range:
                if by_name is not None:
                    return by_name
                raise LabelError(f"{source}: label index {index} is out of range: the label list has {count} "
                                 f"classes (0..{count - 1}); fix the line or the label list.")
            return index
        if token in names:
            return names[token]
        known = ", ".join(repr(k) for k in list(names)[:20]) + (" ..." if count > 20 else "")
        raise LabelError(f"{source}: label {token!r} is neither a class index (0..{count - 1}) nor a name in "
                         f"the label list [{known}]; fix the line or the label list.")

    def _name(self, index: int) -> Any:
        labels = self.label_list or []
        return labels[index] if 0 <= index < len(labels) else None
