"""A reader's preprocessing written down at export, and rebuilt from that description when the
export is loaded: text through the same hubtrain reader class and a saved tokenizer, images
through ImageClassificationReader's decoding and transforms, so raw examples are encoded
exactly as during training and `predict(data=...)`."""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import numpy as np

from ..data import transforms as T
from .metadata import TOKENIZER_DIR

__all__ = ["describe_reader", "save_tokenizer", "Encoder", "build_encoder"]

_TEXT_READERS = ("ClassifyReader", "MultiLabelClassifyReader", "RegressionReader", "SequenceLabelReader",
                 "ReadingComprehensionReader", "TransformerReader")


# ---------------------------------------------------------------------------- describing
def _hubtrain_base(reader: Any, names: Sequence[str]) -> str:
    """The reader's own class, or the hubtrain reader it derives from when it is a user's subclass."""
    for cls in type(reader).__mro__:
        if cls.__module__.startswith("hubtrain.") and cls.__name__ in names:
            return cls.__name__
    return type(reader).__name__


def describe_transform(transform: Any) -> list[dict]:
    """An evaluation transform as a list of steps, for the deterministic hubtrain transforms."""
    if isinstance(transform, T.Compose):
        return [step for t in transform.transforms for step in describe_transform(t)]
    if isinstance(transform, T.Resize):
        return [{"op": "Resize", "width": transform.width, "height": transform.height,
                 "interpolation": transform.interpolation}]
    if isinstance(transform, T.ResizeShorter):
        return [{"op": "ResizeShorter", "size": transform.size, "interpolation": transform.interpolation}]
    if isinstance(transform, T.CenterCrop):
        return [{"op": "CenterCrop", "width": transform.width, "height": transform.height}]
    raise ValueError(f"the reader's eval_transform {transform!r} cannot be written into the export: only "
                     f"hubtrain's Resize, ResizeShorter, CenterCrop and a Compose of them can be rebuilt at "
                     f"inference. Set reader.eval_transform to such a transform, or export with a reader "
                     f"that uses them.")


def _build_transform(steps: Sequence[dict]) -> T.Transform:
    built = []
    for step in steps:
        op = step.get("op")
        if op == "Resize":
            built.append(T.Resize(step["width"], step["height"], step.get("interpolation", "auto")))
        elif op == "ResizeShorter":
            built.append(T.ResizeShorter(step["size"], step.get("interpolation", "auto")))
        elif op == "CenterCrop":
            built.append(T.CenterCrop(step["width"], step["height"]))
        else:
            raise ValueError(f"unknown image transform {op!r} in the export's preprocessing; upgrade hubtrain "
                             f"or export the task again.")
    return built[0] if len(built) == 1 else T.Compose(built)


def describe_reader(reader: Any) -> dict:
    """What the reader does to a raw example, as JSON-ready values."""
    from ..data.image_reader import ImageClassificationReader
    from ..data.text_readers import TransformerReader

    if isinstance(reader, TransformerReader):
        tokenizer = reader.tokenizer
        return {"kind": "text", "reader_class": type(reader).__name__,
                "reader_base": _hubtrain_base(reader, _TEXT_READERS), "max_seq_len": reader.max_seq_len,
                "do_lower_case": getattr(tokenizer, "do_lower_case", None),
                "tokenizer_class": type(tokenizer).__name__, "tokenizer_dir": TOKENIZER_DIR,
                "fields": list(reader.field_names[:reader.num_inputs]),
                "padding": "each batch to its longest example: input_ids with the pad id, segment_ids and "
                           "input_mask with 0, position_ids 0..longest-1 on every row",
                "pad_id": reader.pad_id}
    if isinstance(reader, ImageClassificationReader):
        return {"kind": "image", "reader_class": type(reader).__name__,
                "image_width": reader.image_width, "image_height": reader.image_height,
                "eval_transform": describe_transform(reader.eval_transform),
                "images_mean": list(reader.images_mean), "images_std": list(reader.images_std),
                "normalisation": "RGB uint8 / 255, then (x - mean) / std per channel (mean, std on the 0-1 "
                                 "scale, in RGB order)",
                "decode": "OpenCV, converted to RGB", "layout": "CHW", "channel_order": reader.channel_order}
    return {"kind": "none", "reader_class": type(reader).__name__ if reader is not None else None}


def save_tokenizer(reader: Any, directory: str) -> None:
    """The reader's tokenizer files (paddlenlp's save_pretrained) in `directory/tokenizer`."""
    from ..engine.report import quiet_paddlenlp

    tokenizer = reader.tokenizer
    if not hasattr(tokenizer, "save_pretrained"):
        raise ValueError(f"the reader's tokenizer {type(tokenizer).__name__} has no save_pretrained(): give the "
                         f"reader a paddlenlp tokenizer (e.g. tokenizer=module.tokenizer) to export it.")
    with quiet_paddlenlp():
        tokenizer.save_pretrained(os.path.join(directory, TOKENIZER_DIR))


# ---------------------------------------------------------------------------- rebuilding
class Encoder:
    """Raw examples -> the network's input arrays (one batch), and each example's token count
    (None for images and arrays)."""

    kind = "none"

    def __init__(self, input_names: Sequence[str], input_dtypes: Sequence[str]) -> None:
        self.input_names = list(input_names)
        self.input_dtypes = list(input_dtypes)

    def check(self, example: Any, where: str) -> Any:
        """The example in the form `encode` takes, or a TypeError naming it and the accepted forms."""
        arrays = list(example) if isinstance(example, (list, tuple)) and len(self.input_names) > 1 else [example]
        if len(arrays) != len(self.input_names) or not all(isinstance(a, (np.ndarray, list, int, float))
                                                           for a in arrays):
            names = ", ".join(self.input_names)
            want = "an array" if len(self.input_names) == 1 else f"a tuple of {len(self.input_names)} arrays"
            raise TypeError(f"{where}: this export has no reader, so each example is {want} ({names}) as the "
                            f"network takes it; got {type(example).__name__}.")
        return [np.asarray(a, dtype=d) for a, d in zip(arrays, self.input_dtypes)]

    def encode(self, examples: Sequence[Any], sources: Sequence[str]) -> tuple[list[np.ndarray], Optional[list]]:
        fields = [self.check(example, where) for example, where in zip(examples, sources)]
        try:
            return [np.stack(column) for column in zip(*fields)], None
        except ValueError as e:
            raise ValueError(f"{sources[0]}..{sources[-1]}: examples of different shapes cannot form one batch "
                             f"({e}); give arrays of the shape the network takes.") from None


class TextEncoder(Encoder):
    """Texts and pairs through the hubtrain text reader the task was trained with."""

    kind = "text"

    def __init__(self, meta: dict, directory: str) -> None:
        from ..data import text_readers
        from ..data.tokenization import load_tokenizer
        from ..serialization.restricted_pickle import check_data_pickles

        pre = meta["preprocessing"]
        base = pre.get("reader_base")
        super().__init__([i["name"] for i in meta["inputs"]], [i["dtype"] for i in meta["inputs"]])
        self.refusal: Optional[str] = None
        if base == "ReadingComprehensionReader":
            self.refusal = (f"{directory} is a reading-comprehension export; hub.Predictor does not cut questions "
                            f"and contexts into windows or merge answer spans: use task.predict(data=...) for "
                            f"answers, or feed encoded windows to Predictor.run().")
            return
        reader_cls = getattr(text_readers, base, None) if base in _TEXT_READERS else None
        if reader_cls is None:
            raise ValueError(f"{directory}: unknown text reader {base!r} in the export; upgrade hubtrain or export "
                             f"the task again.")
        tokenizer_dir = os.path.join(directory, pre.get("tokenizer_dir", TOKENIZER_DIR))
        if not os.path.isfile(os.path.join(tokenizer_dir, "tokenizer_config.json")):
            raise FileNotFoundError(f"{tokenizer_dir}: the export's tokenizer files are missing "
                                    f"(tokenizer_config.json); copy the whole export directory, or export again.")
        # a tokenizer class may unpickle files of its folder (ErnieTinyTokenizer its word dictionary)
        check_data_pickles(tokenizer_dir, "Export the task again, or copy its tokenizer folder from the export "
                                          "task.export wrote.")
        tokenizer = load_tokenizer(tokenizer_dir, owner=f"export {directory}")
        extra = {"label_pad_value": 0} if issubclass(reader_cls, text_readers.SequenceLabelReader) else {}
        self.reader = reader_cls(dataset=None, tokenizer=tokenizer, max_seq_len=int(pre["max_seq_len"]), **extra)
        self.pairs = not issubclass(reader_cls, text_readers.SequenceLabelReader)

    def check(self, example: Any, where: str) -> Any:
        from ..data.example import InputExample

        if self.refusal is not None:
            raise ValueError(self.refusal)
        if isinstance(example, str):
            return InputExample(guid=where, text_a=example, source=where)
        if (isinstance(example, (list, tuple)) and len(example) in ((1, 2) if self.pairs else (1,))
                and all(isinstance(t, str) for t in example)):
            return InputExample(guid=where, text_a=example[0], text_b=example[1] if len(example) == 2 else None,
                                source=where)
        forms = '"text", ["text"] or ["text_a", "text_b"]' if self.pairs else '"text" or ["text"]'
        raise TypeError(f"{where}: a text example is {forms}; got {type(example).__name__} ({example!r:.80}).")

    def encode(self, examples: Sequence[Any], sources: Sequence[str]) -> tuple[list[np.ndarray], Optional[list]]:
        checked = [self.check(example, where) for example, where in zip(examples, sources)]
        dataset = self.reader.examples_dataset(checked)
        rows = [dataset[i] for i in range(len(dataset))]
        return self.reader.collate_fn(rows), [len(row[0]) for row in rows]


class ImageEncoder(Encoder):
    """Image paths and arrays through ImageClassificationReader's decoding and evaluation transforms."""

    kind = "image"

    def __init__(self, meta: dict, directory: str) -> None:
        from ..data.image_reader import ImageClassificationReader

        pre = meta["preprocessing"]
        self.reader = ImageClassificationReader(int(pre["image_width"]), int(pre["image_height"]),
                                                channel_order=pre.get("channel_order", "RGB"),
                                                images_mean=pre["images_mean"], images_std=pre["images_std"])
        self.reader.eval_transform = _build_transform(pre.get("eval_transform") or
                                                      [{"op": "Resize", "width": pre["image_width"],
                                                        "height": pre["image_height"]}])
        super().__init__([i["name"] for i in meta["inputs"]], [i["dtype"] for i in meta["inputs"]])

    def check(self, example: Any, where: str) -> Any:
        return self.reader._example_from_raw(example, where=where)

    def encode(self, examples: Sequence[Any], sources: Sequence[str]) -> tuple[list[np.ndarray], Optional[list]]:
        images = [self.reader.preprocess(self.reader.load_image(self.check(example, where)))
                  for example, where in zip(examples, sources)]
        return [np.stack(images)], None


def build_encoder(meta: dict, directory: str) -> Encoder:
    kind = meta.get("preprocessing", {}).get("kind", "none")
    if kind == "text":
        return TextEncoder(meta, directory)
    if kind == "image":
        return ImageEncoder(meta, directory)
    if kind == "none":
        return Encoder([i["name"] for i in meta["inputs"]], [i["dtype"] for i in meta["inputs"]])
    raise ValueError(f"{directory}: unknown preprocessing kind {kind!r} in the export; upgrade hubtrain or export "
                     f"the task again.")
