"""hubtrain.metrics against independent computations: scikit-learn, numpy, scipy, seqeval (CoNLL
chunking) and hand-computed cases, including ties, empty chunks, padding, batches split over
several updates and over several "processes" merged afterwards."""
from __future__ import annotations

import math

import numpy as np
import paddle
import pytest
from scipy.stats import spearmanr
from seqeval.metrics.sequence_labeling import get_entities
from sklearn.metrics import (f1_score, matthews_corrcoef, mean_squared_error, precision_score, recall_score,
                             roc_auc_score)

import hubtrain as hub
from hubtrain.metrics import (F1, Accuracy, ChunkF1, ChunkPrecision, ChunkRecall, HubMetric, Matthews,
                              MeanSquaredError, MultiLabelAUC, MultiLabelF1, MultiLabelPrecision, MultiLabelRecall,
                              Pearson, Precision, Recall, Spearman, SquadEM, SquadF1, TagScheme, chunk_counts,
                              exact_match, make_metrics, normalize_answer, squad_em_f1, token_f1)

SPLITS = [1, 3, 7]  # 7 pieces of a 40-row batch leave some pieces empty below


def pieces(n: int, parts: int) -> list[slice]:
    """Uneven consecutive slices of range(n), some of them empty."""
    if parts == 1:
        return [slice(0, n)]
    cuts = sorted(np.random.default_rng(parts).integers(0, n + 1, parts - 1).tolist() + [0, 0, n])
    return [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])]


def feed(metric: HubMetric, *arrays: np.ndarray, parts: int = 1):
    """Feed the rows of `arrays` as hubtrain's step does (compute on tensors, update), in parts."""
    for s in pieces(len(arrays[0]), parts):
        out = metric.compute(*[paddle.to_tensor(a[s]) for a in arrays])
        metric.update(*(out if isinstance(out, tuple) else (out,)))
    return metric.accumulate()


def merged(make, *arrays: np.ndarray, processes: int = 3):
    """Each "process" feeds its shard of the rows to its own metric; the metrics are merged."""
    n = len(arrays[0])
    shards = [np.arange(n)[r::processes] for r in range(processes)]
    metrics = [make() for _ in shards]
    for m, rows in zip(metrics, shards):
        feed(m, *[a[rows] for a in arrays], parts=2)
    head = metrics[0]
    for m in metrics[1:]:
        head.merge(m)
    return head.accumulate()


# ---------------------------------------------------------------- public names kept

def test_public_names_are_kept():
    assert hub.Accuracy is Accuracy and hub.HubMetric is HubMetric
    assert [type(m) for m in make_metrics(["acc"], ["acc"])] == [Accuracy]


# ---------------------------------------------------------------- classification

def tied_logits(rng, n: int, c: int) -> np.ndarray:
    return rng.integers(0, 3, (n, c)).astype("float32")  # many rows with tied maxima


@pytest.mark.parametrize("parts", SPLITS)
def test_binary_classification_matches_sklearn(parts):
    rng = np.random.default_rng(0)
    logits, label = tied_logits(rng, 40, 2), rng.integers(0, 2, (40, 1))
    pred = logits.argmax(1)  # numpy and paddle both take the first maximum
    y = label[:, 0]
    assert feed(Precision(), logits, label, parts=parts) == pytest.approx(precision_score(y, pred))
    assert feed(Recall(), logits, label, parts=parts) == pytest.approx(recall_score(y, pred))
    assert feed(F1(), logits, label, parts=parts) == pytest.approx(f1_score(y, pred))
    assert feed(Matthews(), logits, label, parts=parts) == pytest.approx(matthews_corrcoef(y, pred))
    assert feed(Accuracy(), logits, label, parts=parts) == pytest.approx(np.mean(pred == y))


@pytest.mark.parametrize("parts", SPLITS)
def test_multiclass_is_macro_over_present_classes(parts):
    rng = np.random.default_rng(1)
    logits = tied_logits(rng, 40, 5)
    logits[:, 4] = -1.0  # class 4 is never predicted ...
    label = rng.integers(0, 3, (40, 1))  # ... nor a label; class 3 only ever predicted
    pred, y = logits.argmax(1), label[:, 0]
    kw = dict(average="macro", zero_division=0)
    assert feed(Precision(), logits, label, parts=parts) == pytest.approx(precision_score(y, pred, **kw))
    assert feed(Recall(), logits, label, parts=parts) == pytest.approx(recall_score(y, pred, **kw))
    assert feed(F1(), logits, label, parts=parts) == pytest.approx(f1_score(y, pred, **kw))
    assert feed(Matthews(), logits, label, parts=parts) == pytest.approx(matthews_corrcoef(y, pred))


def test_classification_across_processes_equals_one_pass():
    rng = np.random.default_rng(2)
    logits, label = tied_logits(rng, 41, 4), rng.integers(0, 4, (41, 1))
    for cls in (Accuracy, Precision, Recall, F1, Matthews):
        assert merged(cls, logits, label) == pytest.approx(feed(cls(), logits, label))


def test_classification_edge_cases():
    one_class = np.array([[1.0, 0.0]] * 4, dtype="float32"), np.zeros((4, 1), dtype="int64")
    assert feed(Matthews(), *one_class) == 0.0 == matthews_corrcoef([0] * 4, [0] * 4)
    assert feed(Precision(), *one_class) == 0.0  # nothing predicted positive
    assert F1().accumulate() == 0.0  # nothing seen
    m = F1()
    m.update(*m.compute(paddle.zeros([2, 3]), paddle.to_tensor([[0], [3]])))
    with pytest.raises(ValueError, match="outside 0..2"):
        m.accumulate()
    with pytest.raises(ValueError, match="'binary' needs 2 classes"):
        feed(F1(average="binary"), np.zeros((2, 3), dtype="float32"), np.array([[0], [1]]))
    with pytest.raises(ValueError, match="one column per class"):
        F1().compute(paddle.zeros([2, 1]), paddle.zeros([2, 1], dtype="int64"))


# ---------------------------------------------------------------- multi-label

def multilabel_case(seed: int, n: int = 40):
    rng = np.random.default_rng(seed)
    logits = (rng.integers(-4, 5, (n, 5)) / 2).astype("float32")  # ties, and exact zeros (sigmoid 0.5)
    labels = (rng.random((n, 5)) < 0.4).astype("float32")
    labels[:, 3] = 0.0  # a label with no positives ...
    logits[:, 3] = -1.0  # ... and never predicted
    return logits, labels


@pytest.mark.parametrize("parts", SPLITS)
def test_multilabel_counts_match_sklearn(parts):
    logits, labels = multilabel_case(3)
    pred = (logits >= 0).astype(int)  # sigmoid >= 0.5
    y = labels.astype(int)
    for cls, fn in ((MultiLabelPrecision, precision_score), (MultiLabelRecall, recall_score),
                    (MultiLabelF1, f1_score)):
        want = [fn(y, pred, average=a, zero_division=0) for a in ("micro", "macro")]
        assert feed(cls(), logits, labels, parts=parts) == pytest.approx(want)
    assert MultiLabelF1().name() == ["micro_f1", "macro_f1"]


@pytest.mark.parametrize("parts", SPLITS)
def test_multilabel_auc_is_exact_with_ties(parts):
    logits, labels = multilabel_case(4)
    metric = MultiLabelAUC()
    got = feed(metric, logits, labels, parts=parts)
    both = [j for j in range(5) if 0 < labels[:, j].sum() < len(labels)]
    per = [roc_auc_score(labels[:, j], logits[:, j]) for j in both]
    assert got == pytest.approx(np.mean(per), abs=1e-12)
    assert np.isnan(metric.per_label()[3])
    assert merged(MultiLabelAUC, logits, labels) == pytest.approx(got, abs=1e-12)


def test_multilabel_auc_ranks_logits_not_saturated_sigmoids():
    logits = np.array([[20.0], [30.0], [25.0], [-3.0]], dtype="float32")  # float32 sigmoids: 1, 1, 1, ...
    labels = np.array([[0.0], [1.0], [1.0], [0.0]], dtype="float32")
    assert feed(MultiLabelAUC(), logits, labels) == 1.0
    assert math.isnan(feed(MultiLabelAUC(), logits, np.ones_like(labels)))  # no label has both classes


def test_multilabel_across_processes_equals_one_pass():
    logits, labels = multilabel_case(5, n=43)
    for cls in (MultiLabelPrecision, MultiLabelRecall, MultiLabelF1):
        assert merged(cls, logits, labels) == pytest.approx(feed(cls(), logits, labels))


# ---------------------------------------------------------------- regression

def regression_case(seed: int, n: int = 40, offset: float = 0.0):
    rng = np.random.default_rng(seed)
    label = (offset + rng.integers(0, 6, (n, 1))).astype("float32")  # ties in the targets
    pred = (label + rng.normal(0, 2, (n, 1))).round(0).astype("float32")  # and in the predictions
    return pred, label


@pytest.mark.parametrize("parts", SPLITS)
def test_regression_matches_numpy_scipy_sklearn(parts):
    pred, label = regression_case(6)
    x, y = pred[:, 0].astype(np.float64), label[:, 0].astype(np.float64)
    assert feed(Pearson(), pred, label, parts=parts) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    assert feed(Spearman(), pred, label, parts=parts) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert feed(MeanSquaredError(), pred, label, parts=parts) == pytest.approx(mean_squared_error(y, x))


def test_pearson_merges_exactly_and_stably():
    pred, label = regression_case(7, n=41, offset=1e5)  # raw sums of squares would cancel here
    want = np.corrcoef(pred[:, 0].astype(np.float64), label[:, 0].astype(np.float64))[0, 1]
    assert feed(Pearson(), pred, label, parts=7) == pytest.approx(want, abs=1e-9)
    for cls in (Pearson, Spearman, MeanSquaredError):
        assert merged(cls, pred, label) == pytest.approx(feed(cls(), pred, label), abs=1e-9)


def test_regression_undefined_cases_are_nan():
    const = np.ones((5, 1), dtype="float32"), np.arange(5, dtype="float32").reshape(5, 1)
    assert math.isnan(feed(Pearson(), *const)) and math.isnan(feed(Spearman(), *const))
    assert math.isnan(Pearson().accumulate()) and math.isnan(MeanSquaredError().accumulate())
    assert MeanSquaredError.higher_is_better is False


# ---------------------------------------------------------------- chunks (sequence labelling)

BIO = ["B-PER", "I-PER", "B-LOC", "I-LOC", "O"]
BIOES = ["B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "O"]
BMES = ["B-PER", "M-PER", "E-PER", "S-PER", "B-LOC", "M-LOC", "E-LOC", "S-LOC", "O"]


def ids(tags: list[str], label_list: list[str]) -> list[int]:
    return [label_list.index(t) for t in tags]


def reference_counts(pred_tags, label_tags) -> tuple[int, int, int]:
    """seqeval's (CoNLL) chunks, sequence by sequence; BMES's M read as I."""
    predicted = labelled = correct = 0
    for p, t in zip(pred_tags, label_tags):
        p_chunks = set(get_entities([s.replace("M-", "I-") for s in p]))
        t_chunks = set(get_entities([s.replace("M-", "I-") for s in t]))
        predicted += len(p_chunks)
        labelled += len(t_chunks)
        correct += len(p_chunks & t_chunks)
    return predicted, labelled, correct


@pytest.mark.parametrize("label_list", [BIO, BIOES, BMES], ids=["BIO", "BIOES", "BMES"])
def test_chunks_match_seqeval_on_random_tags_with_padding(label_list):
    rng = np.random.default_rng(len(label_list))
    n, t, k = 60, 14, len(label_list)
    seq_len = rng.integers(2, t + 1, n)  # seq_len counts [CLS] and [SEP]; 2 means no tokens
    label = rng.integers(0, k, (n, t))  # garbage on [CLS], [SEP] and padding must not matter
    pred = np.where(rng.random((n, t)) < 0.7, label, rng.integers(0, k, (n, t)))
    tags = lambda row, length: [label_list[i] for i in row[1:length - 1]]  # noqa: E731
    want = reference_counts([tags(pred[i], seq_len[i]) for i in range(n)],
                            [tags(label[i], seq_len[i]) for i in range(n)])
    assert want[2] > 10  # the case exercises matching chunks
    got = chunk_counts(paddle.to_tensor(pred), paddle.to_tensor(label), paddle.to_tensor(seq_len),
                       TagScheme.from_labels(label_list))
    assert tuple(got.numpy().tolist()) == want
    p, r = want[2] / want[0], want[2] / want[1]
    for parts in SPLITS:
        scores = [feed(cls(label_list), pred, label, seq_len, parts=parts)
                  for cls in (ChunkPrecision, ChunkRecall, ChunkF1)]
        assert scores == pytest.approx([p, r, 2 * p * r / (p + r)])
    assert merged(lambda: ChunkF1(label_list), pred, label, seq_len) == pytest.approx(2 * p * r / (p + r))


def test_chunks_hand_computed_with_cls_sep_and_padding():
    o = BIO.index("O")
    #         [CLS]    B-PER  I-PER  O  B-LOC  I-LOC  [SEP]  pad
    label = [[o] + ids(["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], BIO) + [o, o]]
    pred = [ids(["B-LOC", "B-PER", "I-PER", "O", "B-LOC", "O", "I-LOC", "B-PER"], BIO)]
    seq_len = [7]
    counts = chunk_counts(paddle.to_tensor(pred), paddle.to_tensor(label), paddle.to_tensor(seq_len),
                          TagScheme.from_labels(BIO))
    # [CLS], [SEP] and padding make no chunk: 2 predicted (PER right, LOC cut short), 2 labelled, 1 correct
    assert counts.numpy().tolist() == [2, 2, 1]
    # labels of -100 (ignored positions) and no [CLS]/[SEP] convention: the same tokens, scored alike
    label_ign = [[-100] + label[0][1:6] + [-100, -100]]
    counts = chunk_counts(paddle.to_tensor(pred), paddle.to_tensor(label_ign), paddle.to_tensor([8]),
                          TagScheme.from_labels(BIO), with_cls_sep=False)
    assert counts.numpy().tolist() == [2, 2, 1]


def test_chunk_rules_and_empty_chunks():
    scheme = TagScheme.from_labels(BIO)

    def count(pred_tags, label_tags):
        p, t = [["O"] + pred_tags + ["O"]], [["O"] + label_tags + ["O"]]
        return chunk_counts(paddle.to_tensor([ids(p[0], BIO)]), paddle.to_tensor([ids(t[0], BIO)]),
                            paddle.to_tensor([len(p[0])]), scheme).numpy().tolist()

    assert count(["I-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"]) == [1, 1, 1]  # I after O starts a chunk
    assert count(["B-PER", "I-LOC"], ["B-PER", "I-PER"]) == [2, 1, 0]  # a type change splits a chunk
    assert count(["O", "O", "O"], ["O", "O", "O"]) == [0, 0, 0]  # no chunks at all
    m = ChunkF1(BIO)
    feed(m, np.full((2, 5), 4), np.full((2, 5), 4), np.array([5, 0]))  # all O, and an empty sequence
    assert m.precision_recall_f1() == (0.0, 0.0, 0.0)
    feed(m, np.zeros((0, 5), dtype="int64"), np.zeros((0, 5), dtype="int64"), np.zeros(0, dtype="int64"))
    logits = np.eye(len(BIO), dtype="float32")[np.array([ids(["O", "B-PER", "I-PER", "O"], BIO)])]
    assert chunk_counts(paddle.to_tensor(logits), paddle.to_tensor([ids(["O", "B-PER", "I-PER", "O"], BIO)]),
                        paddle.to_tensor([4]), scheme).numpy().tolist() == [1, 1, 1]  # per-tag scores accepted


def test_tag_schemes_detected_and_bad_tag_sets_refused():
    assert TagScheme.from_labels(BIO).scheme == "BIO"
    assert TagScheme.from_labels(BIOES).scheme == "BIOES"
    assert TagScheme.from_labels(BMES).scheme == "BMES"
    assert TagScheme.from_labels(["B-X", "I-X", "O"], "IOB2").scheme == "BIO"
    with pytest.raises(ValueError, match=r"\['I-PER'\] do not belong to the BMES"):
        TagScheme.from_labels(["B-PER", "M-PER", "I-PER", "O"])
    with pytest.raises(ValueError, match=r"\['E-PER'\] do not belong to the BIO"):
        TagScheme.from_labels(["B-PER", "E-PER", "O"], scheme="BIO")
    with pytest.raises(ValueError, match=r"\['PER'\] are neither 'O' nor"):
        TagScheme.from_labels(["PER", "O"])
    with pytest.raises(ValueError, match="more than once"):
        TagScheme.from_labels(["B-PER", "B-PER", "O"])
    with pytest.raises(ValueError, match="scheme='BILOU'"):
        TagScheme.from_labels(BIO, "BILOU")


# ---------------------------------------------------------------- reading comprehension (SQuAD)

def test_squad_normalisation_and_scores_by_hand():
    assert normalize_answer("The  Eiffel-Tower, in Paris!") == "eiffeltower in paris"
    assert exact_match("the Eiffel Tower", ["Eiffel Tower.", "Paris"]) == 1.0
    # "eiffel tower in paris" vs "eiffel tower": precision 2/4, recall 2/2 -> F1 2/3
    assert token_f1("Eiffel Tower in Paris", "the Eiffel Tower") == pytest.approx(2 / 3)
    assert token_f1("Paris", ["Eiffel Tower", "paris"]) == 1.0  # best reference
    assert token_f1("", []) == 1.0 and token_f1("Paris", []) == 0.0  # unanswerable question
    # Chinese: one token per character; "北京大学" vs "北京": precision 2/4, recall 1 -> 2/3
    assert token_f1("北京大学。", "北京") == pytest.approx(2 / 3) and exact_match("北京。", "北京") == 1.0
    em, f1 = squad_em_f1(["Eiffel Tower", "London"], [["the Eiffel Tower"], ["Paris"]])
    assert (em, f1) == (0.5, 0.5)
    em, f1 = squad_em_f1({"q1": "Paris"}, {"q1": ["Paris"], "q2": ["Rome"]})  # q2 unanswered scores 0
    assert (em, f1) == (0.5, 0.5)
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        squad_em_f1(["a", "b"], [["a"]])


def test_squad_metrics_accumulate_sums():
    preds, refs = ["Eiffel Tower in Paris", "London", "1889"], [["Eiffel Tower"], ["Paris"], ["1889"]]
    em, f1 = squad_em_f1(preds, refs)
    m_em, m_f1, other = SquadEM(), SquadF1(), SquadF1()
    for i in range(2):
        m_em.update(*m_em.compute(preds[i:i + 1], refs[i:i + 1]))
        m_f1.update(*m_f1.compute(preds[i:i + 1], refs[i:i + 1]))
    m_em.update(*m_em.compute(preds[2:], refs[2:]))
    other.update(*other.compute(preds[2:], refs[2:]))
    m_f1.merge(other)
    assert (m_em.accumulate(), m_f1.accumulate()) == pytest.approx((em, f1))
    assert (em, f1) == pytest.approx((1 / 3, (2 / 3 + 0 + 1) / 3))


# ---------------------------------------------------------------- make_metrics

def test_make_metrics_by_kind_and_clear_errors():
    assert [type(m) for m in make_metrics(["f1", "matthews"], ["acc", "f1", "matthews"])] == [F1, Matthews]
    assert [type(m) for m in make_metrics("auc", ["auc", "f1"], kind="multi_label")] == [MultiLabelAUC]
    chunk = make_metrics(["f1", "precision"], ["f1", "precision", "recall"], kind="sequence_label", label_list=BMES)
    assert [type(m) for m in chunk] == [ChunkF1, ChunkPrecision] and chunk[0].scheme.scheme == "BMES"
    assert [m.name() for m in make_metrics(["em", "f1"], ["em", "f1"], kind="reading_comprehension")] == ["em", "f1"]
    with pytest.raises(ValueError, match=r"'auc'.*choose from \['acc', 'f1'\]"):
        make_metrics(["auc"], ["acc", "f1"])
    with pytest.raises(ValueError, match=r"'recall'.*choose from \['pearson'\]"):
        make_metrics(["recall"], ["pearson"], kind="regression")
    with pytest.raises(ValueError, match="unknown metric kind 'ner'"):
        make_metrics(["f1"], ["f1"], kind="ner")
    with pytest.raises(ValueError, match="need label_list"):
        make_metrics(["f1"], ["f1"], kind="sequence_label", label_list=[])
    with pytest.raises(TypeError, match=r"unexpected setting\(s\) \['labels'\]"):
        make_metrics(["f1"], ["f1"], kind="sequence_label", labels=BIO)


# ---------------------------------------------------------------- inside hapi

def test_multi_valued_metric_in_plain_hapi_evaluate():
    """hapi hands `update` numpy arrays and reports a metric with several names under each name."""
    paddle.seed(0)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(24, 3)).astype("float32")
    y = (rng.random((24, 4)) < 0.5).astype("float32")
    net = paddle.nn.Linear(3, 4)
    model = paddle.Model(net, [paddle.static.InputSpec([None, 3], "float32", "x")],
                         [paddle.static.InputSpec([None, 4], "float32", "y")])
    model.prepare(metrics=[MultiLabelF1(), MultiLabelAUC()])
    data = paddle.io.TensorDataset([paddle.to_tensor(x), paddle.to_tensor(y)])
    result = model.evaluate(data, batch_size=5, verbose=0)
    logits = net(paddle.to_tensor(x)).numpy()
    pred = (logits >= 0).astype(int)
    assert result["micro_f1"] == pytest.approx(f1_score(y, pred, average="micro", zero_division=0))
    assert result["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0))
    assert result["auc"] == pytest.approx(roc_auc_score(y, logits, average="macro"))
