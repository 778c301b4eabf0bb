"""PaddleHub 1.x's run-event helpers and what predict returns: a custom task written as
PaddleHub's custom-task guide shows it (its run events verbatim, `_calculate_metrics` and
`env.<name>_scalar` in its log event) fine-tuned on scikit-learn's digits, every task type's
`_calculate_metrics` and `predict(return_result=True)`, phase_guard, init_if_necessary,
load_parameters, and the result file report_final_result writes for a tuner."""
import glob
import math
import os
import time
from collections import OrderedDict

import numpy as np
import paddle
import paddle.nn as nn
import pytest
from paddle.static import InputSpec
from sklearn.metrics import roc_auc_score

import hubtrain as hub
from hubtrain.engine.checkpoint import CheckpointError
from hubtrain.log import logger
from hubtrain.metrics import squad_em_f1
from hubtrain.metrics.cmrc2018 import cmrc2018_exact_match, cmrc2018_f1
from hubtrain.metrics.squad import token_f1
from tiny import Digits, Vectors, mlp_backbone


# ---------------------------------------------------------------- the guide's custom task
class CustomTask(hub.BaseTask):
    """Network events in dygraph form; run events exactly as the custom-task guide writes them."""

    def __init__(self, feature, num_classes, config):
        self.num_classes = num_classes
        super().__init__(feature, config=config)

    def _build_net(self):
        return [nn.Linear(self.feature_dim, 32), nn.ReLU(), nn.Linear(32, self.num_classes)]

    def _add_label(self):
        return [InputSpec([None, 1], "int64", "label")]

    def _add_loss(self):
        return nn.CrossEntropyLoss()

    def _add_metrics(self):
        return [paddle.metric.Accuracy()]

    def _build_env_start_event(self):
        logger.info("Start to build env {}".format(self.phase))

    def _build_env_end_event(self):
        logger.info("End of build env {}".format(self.phase))

    def _finetune_start_event(self):
        logger.info("PaddleHub finetune start")

    def _finetune_end_event(self):
        logger.info("PaddleHub finetune finished.")

    def _eval_start_event(self):
        logger.info("Evaluation on {} dataset start".format(self.phase))

    def _eval_end_event(self, run_states):
        run_step = 0
        for run_state in run_states:
            run_step += run_state.run_step

        run_time_used = time.time() - run_states[0].run_time_begin
        run_speed = run_step / run_time_used
        logger.info("[%s dataset evaluation result] [step/sec: %.2f]" %
                    (self.phase, run_speed))

    def _predict_start_event(self):
        logger.info("PaddleHub predict start")

    def _predict_end_event(self):
        logger.info("PaddleHub predict finished.")

    def _log_interval_event(self, run_states):
        avg_loss, avg_acc, run_speed = self._calculate_metrics(run_states)
        self.env.loss_scalar.add_record(self.current_step, avg_loss)
        self.env.acc_scalar.add_record(self.current_step, avg_acc)
        logger.info("step %d: loss=%.5f acc=%.5f [step/sec: %.2f]" %
                    (self.current_step, avg_loss, avg_acc, run_speed))

    def _save_ckpt_interval_event(self):
        self.save_checkpoint(self.current_epoch, self.current_step)

    def _eval_interval_event(self):
        self.eval(phase="dev")

    def _run_step_event(self, run_state):
        ...


class Watched(CustomTask):
    """Keeps what each `_calculate_metrics` call saw and returned, to be checked by hand."""

    def __init__(self, *args, **kwargs):
        self.calls = []
        super().__init__(*args, **kwargs)

    def _calculate_metrics(self, run_states):
        seen = [(rs.run_examples, np.asarray(rs.run_results[0]).copy(), np.asarray(rs.run_results[1]).copy())
                for rs in run_states]
        figures = super()._calculate_metrics(run_states)
        self.calls.append((self.phase, self.current_step, seen, figures))
        return figures


def _scalars(logdir):
    """Every scalar in a VisualDL log directory, tag -> {step: value}."""
    from visualdl import LogReader

    found = {}
    for path in glob.glob(os.path.join(logdir, "vdlrecords.*.log")):
        reader = LogReader(file_path=path)
        for tag in reader.get_tags().get("scalar", []):
            found.setdefault(tag, {}).update({r.id: r.value for r in reader.get_data("scalar", tag)})
    return found


def test_the_guides_custom_task_fine_tunes_with_its_run_events(tmp_path, digits):
    train = Digits(digits[0].x[:200], digits[0].y[:200])
    dev = Digits(digits[1].x[:60], digits[1].y[:60])
    ckpt = tmp_path / "ckpt"
    config = hub.RunConfig(num_epoch=2, batch_size=20, log_interval=5, eval_interval=10, save_ckpt_interval=5,
                           keep_checkpoint_max=10, shuffle=False, seed=0, checkpoint_dir=str(ckpt),
                           strategy=hub.DefaultFinetuneStrategy(learning_rate=5e-3))
    task = Watched(mlp_backbone(), num_classes=10, config=config)
    task.finetune_and_eval(train, dev)

    logged = [c for c in task.calls if c[0] == "train"]
    assert [c[1] for c in logged] == [5, 10, 15, 20]
    vdl = _scalars(str(ckpt / "visualdl"))
    for _, step, seen, (avg_loss, avg_acc, run_speed) in logged:
        examples = sum(n for n, _, _ in seen)
        assert examples == 100 and run_speed > 0
        assert avg_loss == pytest.approx(sum(n * float(loss) for n, loss, _ in seen) / examples, rel=1e-6)
        # accuracy as the metric reports it: over the epoch so far (no shuffling: batch k is rows 20k..20k+19)
        epoch_steps = [c for c in logged if (c[1] - 1) // 10 == (step - 1) // 10 and c[1] <= step]
        logits = np.concatenate([out for c in epoch_steps for _, _, out in c[2]])
        labels = train.y[:len(logits)]
        assert avg_acc == pytest.approx(float((logits.argmax(axis=1) == labels).mean()))
        # env.loss_scalar / env.acc_scalar went to VisualDL as train/loss and train/acc
        assert vdl["train/loss"][step] == pytest.approx(avg_loss, rel=1e-6)
        assert vdl["train/acc"][step] == pytest.approx(avg_acc, rel=1e-6)
    assert set(vdl["train/acc"]) == {5, 10, 15, 20}
    # _save_ckpt_interval_event's save_checkpoint(epoch, step) wrote every 5 steps; the dev split was evaluated
    assert {"best_model", "step_5", "step_10", "step_15", "step_20", "visualdl"} <= set(os.listdir(ckpt))
    assert task.last_result("dev") is not None and task.train_state.best_step in (10, 20)

    # an evaluation's figures: the loss weighted over its batches, the accuracy of the whole split
    run_states = task.eval("dev")
    avg_loss, avg_acc, run_speed = task._calculate_metrics(run_states)
    losses = np.array([float(rs.run_results[0]) for rs in run_states])
    sizes = np.array([rs.run_examples for rs in run_states])
    logits = np.concatenate([rs.run_results[1] for rs in run_states])
    assert avg_loss == pytest.approx(float((losses * sizes).sum() / sizes.sum()), rel=1e-6)
    assert avg_acc == pytest.approx(float((logits.argmax(axis=1) == dev.y).mean())) == task.last_result("dev")["acc"]

    # PaddleHub 1.x's base predict result: the first value of each example's first output
    raw = task.predict(data=[[x] for x in digits[2].x[:7]])
    assert task.predict(data=[[x] for x in digits[2].x[:7]], return_result=True) == \
        pytest.approx(np.concatenate([rs.run_results[0] for rs in raw])[:, 0].tolist(), rel=1e-6)


# ---------------------------------------------------------------- phase_guard, init_if_necessary, load_parameters
def _weights(task):
    return {k: v.numpy().copy() for k, v in task.network.state_dict().items()}


def test_phase_guard_init_and_load_parameters(tmp_path, digits):
    train = Digits(digits[0].x[:100], digits[0].y[:100])
    config = hub.RunConfig(num_epoch=1, batch_size=20, seed=0, checkpoint_dir=str(tmp_path / "ckpt"),
                           strategy=hub.DefaultFinetuneStrategy(learning_rate=1e-2))
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, config=config)
    assert task.phase is None
    with task.phase_guard("val"):
        assert task.phase == "dev" and task.env.phase == "dev"
        with task.phase_guard("inference"):
            assert task.phase == "predict"
        assert task.phase == "dev"
    with pytest.raises(RuntimeError), task.phase_guard("test"):
        raise RuntimeError("leaves the block")
    assert task.phase is None
    with pytest.raises(ValueError, match="'validation'.*choose from train, dev"):
        with task.phase_guard("validation"):
            pass

    before = _weights(task)
    assert task.init_if_necessary() is None
    assert all(np.array_equal(v, _weights(task)[k]) for k, v in before.items())

    task.finetune(train)
    trained = _weights(task)
    task.save(str(tmp_path / "saved" / "model"))
    step = tmp_path / "ckpt" / "step_5"
    for source in (str(tmp_path / "saved" / "model"), str(tmp_path / "saved" / "model.pdparams"), str(step),
                   str(tmp_path / "ckpt")):
        fresh = hub.ImageClassifierTask(feature=mlp_backbone(seed=1), num_classes=10,
                                        config=hub.RunConfig(seed=1, checkpoint_dir=str(tmp_path / "other")))
        assert not np.array_equal(_weights(fresh)["head.1.weight"], trained["head.1.weight"])
        fresh.load_parameters(source)
        assert all(np.array_equal(v, _weights(fresh)[k]) for k, v in trained.items()), source

    other = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=7, config=hub.RunConfig())
    kept = _weights(other)
    with pytest.raises(CheckpointError, match=r"step_5 was written by a different network.*head\.1.*load_parameters\("):
        other.load_parameters(str(step))
    with pytest.raises(FileNotFoundError, match=r"no such directory, and no .*nowhere\.pdparams"):
        other.load_parameters(str(tmp_path / "nowhere"))
    task.save(str(tmp_path / "export" / "model"), training=False)
    with pytest.raises(FileNotFoundError, match=r"an inference model .* task\.save\(path\)"):
        other.load_parameters(str(tmp_path / "export" / "model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty'\): the directory holds no weights hubtrain wrote"):
        other.load_parameters(str(tmp_path / "empty"))
    assert all(np.array_equal(v, _weights(other)[k]) for k, v in kept.items())


# ---------------------------------------------------------------- classifier: names, records, scores
@pytest.fixture(scope="module")
def sentiment(tiny_bert_dir, tmp_path_factory):
    from tiny_text import sentiment_task

    root = tmp_path_factory.mktemp("sentiment")
    task, reader = sentiment_task(tiny_bert_dir, str(root), 64, max_seq_len=24, num_epoch=3, batch_size=16, seed=0,
                                  checkpoint_dir=str(root / "ckpt"),
                                  strategy=hub.AdamWeightDecayStrategy(learning_rate=5e-3))
    task.finetune()
    return task, reader


def test_text_classifier_returns_label_names_and_takes_encoded_records(sentiment):
    task, reader = sentiment
    texts = [["the film was great"], ["the movie was awful"], ["a very poor film"], ["the film is good"]]
    probs = np.concatenate([rs.run_results[0] for rs in task.predict(data=texts)])
    names = task.predict(data=texts, return_result=True)
    assert names == [["neg", "pos"][i] for i in probs.argmax(axis=1)]
    assert task.predict(data=texts, label_list=["bad", "good"]) == [["bad", "good"][i] for i in probs.argmax(axis=1)]
    with pytest.raises(ValueError, match="label_list has 3 names .* 2 classes"):
        task.predict(data=texts, label_list=["a", "b", "c"])

    # the same texts as PaddleHub 1.8 tokenizers' records: fed by input name, extra keys ignored,
    # a record padded to max_seq_len cut to its seq_len, each batch padded to its longest
    encoded = reader.examples_dataset(texts)
    records = []
    for i in range(len(texts)):
        ids, _, segments, mask = encoded[i][:4]
        records.append({"input_ids": list(ids), "segment_ids": list(segments), "input_mask": list(mask),
                        "seq_len": len(ids), "text": texts[i][0]})
    padded = dict(records[1], input_ids=records[1]["input_ids"] + [0] * 9,
                  segment_ids=records[1]["segment_ids"] + [0] * 9, input_mask=records[1]["input_mask"] + [0] * 9)
    from_records = np.concatenate([rs.run_results[0] for rs in task.predict(data=[records[0], padded] + records[2:])])
    np.testing.assert_allclose(from_records, probs, rtol=1e-5, atol=1e-6)
    assert task.predict(data=records, return_result=True) == names
    with pytest.raises(ValueError, match="record 1 has no 'input_ids'"):
        task.predict(data=[records[0], {"segment_ids": [0, 0]}])

    # _calculate_metrics of an evaluation: PaddleHub 1.7's (scores, avg_loss, run_speed)
    run_states = task.eval("dev", dataset=reader.get_dataset("train"))
    scores, avg_loss, run_speed = task._calculate_metrics(run_states)
    assert list(scores) == ["acc"] and isinstance(scores, OrderedDict) and run_speed > 0
    logits = np.concatenate([rs.run_results[1] for rs in run_states])
    labels = np.concatenate([reader.get_dataset("train")[i][-1] for i in range(len(logits))])
    assert scores["acc"] == pytest.approx(float((logits.argmax(axis=1) == labels).mean()))
    sizes = np.array([rs.run_examples for rs in run_states])
    assert avg_loss == pytest.approx(float(sum(float(rs.run_results[0]) * n for rs, n in zip(run_states, sizes))
                                           / sizes.sum()), rel=1e-6)


# ---------------------------------------------------------------- multi-label and regression on digits
def _config(tmp_path, name, epochs=3):
    return hub.RunConfig(num_epoch=epochs, batch_size=50, seed=0, log_interval=1000, checkpoint_dir=str(tmp_path / name),
                         strategy=hub.DefaultFinetuneStrategy(learning_rate=1e-2, regularization_coeff=0.0))


def test_multilabel_scores_and_label_dicts(tmp_path, digits):
    flags = lambda y: np.stack([y % 2 == 0, y >= 5], axis=1)  # noqa: E731 - "even", "big"
    train = Vectors(digits[0].x[:400], flags(digits[0].y[:400]))
    dev = Vectors(digits[1].x[:100], flags(digits[1].y[:100]))
    task = hub.MultiLabelClassifierTask(mlp_backbone(), num_classes=2, feature_dim=64, metrics_choices=["auc", "f1"],
                                        config=_config(tmp_path, "ml"))
    task.finetune(train)
    run_states = task.eval("dev", dataset=dev)
    scores, avg_loss, _ = task._calculate_metrics(run_states)
    logits = np.concatenate([rs.run_results[1] for rs in run_states])
    per_label = [roc_auc_score(dev.y[:, j], logits[:, j]) for j in range(2)]
    assert list(scores) == ["auc", "auc_0", "auc_1", "micro_f1", "macro_f1"]
    assert [scores["auc_0"], scores["auc_1"]] == pytest.approx(per_label, abs=1e-9)
    assert scores["auc"] == pytest.approx(np.mean(per_label)) and scores["auc"] > 0.75
    assert avg_loss == pytest.approx(task.last_result("dev")["loss"], rel=1e-6)

    result = task.predict(data=[[x] for x in digits[2].x[:6]], label_list=["even", "big"])
    probs = np.concatenate([rs.run_results[0] for rs in task.predict(data=[[x] for x in digits[2].x[:6]])])
    assert result == [[{"even": int(p[0] >= 0.5)}, {"big": int(p[1] >= 0.5)}] for p in probs]


def test_regression_scores_and_values(tmp_path, digits):
    train = Vectors(digits[0].x[:400], digits[0].y[:400, None] / 9.0)
    dev = Vectors(digits[1].x[:100], digits[1].y[:100, None] / 9.0)
    task = hub.RegressionTask(mlp_backbone(), feature_dim=64, metrics_choices=["pearson", "mse"], dropout=0.0,
                              config=_config(tmp_path, "reg"))
    task.finetune(train)
    scores, _, _ = task._calculate_metrics(task.eval("dev", dataset=dev))
    values = task.predict(data=[[x] for x in dev.x], return_result=True)
    assert len(values) == 100 and all(isinstance(v, float) for v in values)
    assert list(scores) == ["pearson", "mse"]
    assert scores["pearson"] == pytest.approx(np.corrcoef(values, dev.y[:, 0])[0, 1], abs=1e-5)
    assert scores["mse"] == pytest.approx(float(np.mean((np.array(values) - dev.y[:, 0]) ** 2)), rel=1e-4)
    assert scores["pearson"] > 0.5


# ---------------------------------------------------------------- sequence labelling, fed records
TAGS = ["B-POS", "B-NEG", "O"]
WORDS = {"good": 0, "great": 0, "fine": 0, "bad": 1, "awful": 1, "poor": 1}


class _Words(nn.Layer):
    def __init__(self, vocab):
        super().__init__()
        paddle.seed(0)
        self.embed = nn.Embedding(len(vocab) + 3, 16)

    def forward(self, input_ids):
        return self.embed(input_ids)


class _Tagged(paddle.io.Dataset):
    """[CLS] w1 .. wn [SEP] as ids, seq_len, a tag per token (O on [CLS]/[SEP] and padding)."""

    def __init__(self, rows, vocab, steps=8):
        super().__init__()
        self.items = []
        for text, _ in rows:
            words = text.split()[:steps - 2]
            ids = [1] + [vocab[w] for w in words] + [2]
            tags = [2] + [WORDS.get(w, 2) for w in words] + [2]
            pad = steps - len(ids)
            self.items.append((np.array(ids + [0] * pad, "int64"), np.array(len(ids), "int64"),
                               np.array(tags + [2] * pad, "int64")))

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


def test_sequence_labeller_scores_and_tag_names(tmp_path):
    from tiny_text import sentiment_rows

    rows = sentiment_rows(120)
    vocab = {w: i + 3 for i, w in enumerate(sorted({w for t, _ in rows for w in t.split()}))}
    train, dev = _Tagged(rows[:90], vocab), _Tagged(rows[90:], vocab)
    task = hub.SequenceLabelTask(_Words(vocab), max_seq_len=8, num_classes=3, label_list=TAGS, feature_dim=16,
                                 metrics_choices=["f1", "precision", "recall"], config=_config(tmp_path, "seq", 4))
    task.finetune(train)
    scores, _, _ = task._calculate_metrics(task.eval("dev", dataset=dev))
    assert list(scores) == ["f1", "precision", "recall"]
    records = [{"input_ids": list(ids[:n]), "seq_len": int(n)} for ids, n, _ in dev.items]
    tags = task.predict(data=records, return_result=True)
    assert [len(t) for t in tags] == [int(n) - 2 for _, n, _ in dev.items]
    # chunk scores by hand: with B- tags only, every tagged word is a chunk of its own
    found = {(i, t, tag) for i, row in enumerate(tags) for t, tag in enumerate(row) if tag != "O"}
    gold = {(i, t, TAGS[g]) for i, (_, n, gt) in enumerate(dev.items) for t, g in enumerate(gt[1:int(n) - 1])
            if TAGS[g] != "O"}
    precision, recall = len(found & gold) / len(found), len(found & gold) / len(gold)
    assert scores["precision"] == pytest.approx(precision) and scores["recall"] == pytest.approx(recall)
    assert scores["f1"] == pytest.approx(2 * precision * recall / (precision + recall)) and scores["f1"] > 0.5
    assert task.predict(data=records[:2], label_list=["P", "N", "-"]) == \
        [[{"B-POS": "P", "B-NEG": "N", "O": "-"}[t] for t in row] for row in tags[:2]]


# ---------------------------------------------------------------- reading comprehension and its sub-tasks
@pytest.fixture(scope="module")
def squad(tmp_path_factory):
    from hubtrain.data.squad import SquadDataset
    from tiny_tasks import minilm_vocab, write_bert, write_squad

    root = tmp_path_factory.mktemp("facts")
    write_squad(root / "dev.json", 24, seed=1)
    module = hub.Module(directory=write_bert(str(root / "bert"), vocab_file=minilm_vocab(), hidden=32, layers=1))
    dataset = SquadDataset(base_path=str(root), dev_file="dev.json")
    reader = hub.reader.ReadingComprehensionReader(dataset=dataset, vocab_path=module.get_vocab_path(),
                                                   max_seq_length=40, doc_stride=12, max_query_length=12)
    return module, dataset, reader


def _rc_task(squad, tmp_path, **kwargs):
    module, dataset, reader = squad
    _, outputs, _ = module.context(trainable=True)
    paddle.seed(0)
    return hub.ReadingComprehensionTask(outputs["sequence_output"], data_reader=reader, max_answer_length=5,
                                        config=hub.RunConfig(batch_size=16, checkpoint_dir=str(tmp_path)), **kwargs)


def test_reading_comprehension_answers_by_id_and_squad_scores(squad, tmp_path):
    module, dataset, reader = squad
    task = _rc_task(squad, tmp_path / "squad")
    examples = dataset.get_dev_examples()
    references = {ex.guid: [a["text"] for a in ex.extra["answers"]] for ex in examples}
    answers = task.predict(data=examples, return_result=True)
    assert isinstance(answers, OrderedDict) and list(answers) == [ex.guid for ex in examples]
    assert task.predict(data=[["where does bob live ?", "bob lives in oslo ."]], return_result=True).keys() == {0}
    scores, _, _ = task._calculate_metrics(task.eval("dev"))
    em, f1 = squad_em_f1(answers, references)
    assert dict(scores) == pytest.approx({"exact_match": 100 * em, "f1": 100 * f1})

    # cmrc2018: CMRC 2018's scoring, PaddleHub 1.x's keys
    chinese = _rc_task(squad, tmp_path / "cmrc", sub_task="CMRC2018")
    scores, _, _ = chinese._calculate_metrics(chinese.eval("dev"))
    em = np.mean([cmrc2018_exact_match(answers[q], r) for q, r in references.items()])
    f1 = np.mean([cmrc2018_f1(answers[q], r) for q, r in references.items()])
    assert dict(scores) == pytest.approx({"AVERAGE": 50 * (em + f1), "F1": 100 * f1, "EM": 100 * em,
                                          "TOTAL": len(examples), "SKIP": 0})
    with pytest.raises(ValueError, match="sub_task='squad3'.*squad, squad2.0, cmrc2018, drcd"):
        _rc_task(squad, tmp_path / "bad", sub_task="squad3")


def _brute_force_null_answer(task, features, run_states):
    """Per question: smallest null score over its windows minus its best span's score."""
    rows = [(s, e) for rs in run_states for s, e in zip(rs.run_results[0], rs.run_results[1])]  # batches differ in length
    null, best = {}, {}
    for (start, end), feature in zip(rows, features):
        valid = [t for t, span in enumerate(feature.token_spans[:len(start)]) if span is not None]
        spans = [start[a] + end[b] for a in valid for b in valid if 0 <= b - a < task.max_answer_length]
        q = feature.guid
        null[q] = min(null.get(q, math.inf), start[0] + end[0])
        best[q] = max([best.get(q, -math.inf)] + spans)
    return {q: null[q] - best[q] for q in null}


def test_squad2_answers_nothing_when_the_null_score_wins(squad, tmp_path):
    module, dataset, reader = squad
    examples = dataset.get_dev_examples()
    plain = _rc_task(squad, tmp_path / "a").predict(data=examples, return_result=True)
    task = _rc_task(squad, tmp_path / "b", sub_task="squad2.0", n_best_size=64)
    run_states = task.predict(data=examples)
    diff = _brute_force_null_answer(task, reader.examples_dataset(examples).examples, run_states)
    threshold = float(np.median(list(diff.values())))
    task.null_score_diff_threshold = threshold
    answers = task.predict(data=examples, return_result=True)
    assert answers == OrderedDict((q, "" if diff[q] > threshold else plain[q]) for q in plain)
    assert 0 < sum(a == "" for a in answers.values()) < len(answers)
    scores, _, _ = task._calculate_metrics(task.eval("dev"))
    assert list(scores) == ["exact", "f1", "total"] and scores["total"] == len(examples)


def test_cmrc2018_scores_runs_of_characters_not_bags():
    assert cmrc2018_f1("北京大学", ["北京"]) == pytest.approx(2 / 3)      # common run 2: p 2/4, r 2/2
    assert cmrc2018_f1("京北", ["北京"]) == pytest.approx(0.5)            # runs of 1, where SQuAD's bag F1 ...
    assert token_f1("京北", ["北京"]) == pytest.approx(1.0)               # ... sees the same two characters
    assert cmrc2018_exact_match("《北京》。", ["北京"]) == 1.0           # marks dropped
    assert cmrc2018_exact_match("The Beijing", ["Beijing"]) == 0.0       # articles are not (SQuAD drops them)
    assert cmrc2018_f1("2018年北京", ["在2018年"]) == pytest.approx(2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3))


# ---------------------------------------------------------------- the tuner's result file
def test_report_final_result_appends_the_line_a_tuner_reads(tmp_path, monkeypatch, hub_warnings):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HUB_HOME", str(home))
    path = home / ".paddlehub" / "tmp" / "tmp.txt"
    monkeypatch.delenv("PaddleHub_AutoDL_Trial_ID", raising=False)
    assert hub.report_final_result(0.5) is None and not path.exists()
    assert "no PaddleHub_AutoDL_Trial_ID" in hub_warnings.text
    for trial, score in (("a1B2c3D4", 0.875), ("x9y8z7w6", np.float32(0.25)), ("a1B2c3D4", np.array([0.9]))):
        monkeypatch.setenv("PaddleHub_AutoDL_Trial_ID", trial)
        assert hub.report_final_result(score) == str(path)
    with pytest.raises(TypeError, match="one number"):
        hub.report_final_result("high")
    # the tuner's reading: the last line with its trial id, score as float
    results = {}
    for line in path.read_text().splitlines():
        trial, score = line.strip().split("\t")
        results[trial] = float(score)
    assert results == {"a1B2c3D4": pytest.approx(0.9), "x9y8z7w6": 0.25}
    assert len(path.read_text().splitlines()) == 3
