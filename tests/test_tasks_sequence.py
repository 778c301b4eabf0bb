"""SequenceLabelTask: the linear-chain CRF against brute force, the masked softmax loss, training
on real MSRA-NER sentences (a tiny BERT over their characters) beating the all-"O" baseline, and
the errors for tag sets and tag ids that do not fit."""
import itertools

import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.data.example import LabelError
from hubtrain.tasks.crf import LinearChainCRF
from hubtrain.tasks.sequence import _SoftmaxLoss
from tiny_tasks import write_bert


# ---------------------------------------------------------------- CRF against brute force
def _random_crf(num_tags, seed):
    paddle.seed(seed)
    crf = LinearChainCRF(num_tags)
    for p in (crf.transitions, crf.start_transitions, crf.end_transitions):
        p.set_value(paddle.randn(p.shape))
    return crf


def _path_score(crf, emissions, path):
    trans, start, end = crf.transitions.numpy(), crf.start_transitions.numpy(), crf.end_transitions.numpy()
    return (start[path[0]] + end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
            + sum(trans[a, b] for a, b in zip(path, path[1:])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_viterbi_and_partition_match_brute_force(seed):
    rng = np.random.RandomState(seed)
    num_tags, steps = 3, 5
    crf = _random_crf(num_tags, seed)
    lengths = np.array([5, 3, 1, 4, 2])
    emissions = rng.randn(len(lengths), steps, num_tags).astype("float32")
    gold = rng.randint(0, num_tags, size=(len(lengths), steps))
    paths, best = crf.viterbi(paddle.to_tensor(emissions), paddle.to_tensor(lengths))
    log_z = crf.log_partition(paddle.to_tensor(emissions), paddle.to_tensor(lengths)).numpy()
    nll = crf.nll(paddle.to_tensor(emissions), paddle.to_tensor(gold), paddle.to_tensor(lengths)).numpy()
    for i, n in enumerate(lengths):
        every = list(itertools.product(range(num_tags), repeat=int(n)))
        scores = np.array([_path_score(crf, emissions[i], p) for p in every])
        assert list(paths.numpy()[i, :n]) == list(every[int(scores.argmax())])
        assert (paths.numpy()[i, n:] == paths.numpy()[i, n - 1]).all()  # padding repeats the last tag
        np.testing.assert_allclose(best.numpy()[i], scores.max(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(log_z[i], np.log(np.exp(scores - scores.max()).sum()) + scores.max(), rtol=1e-5)
        gold_score = _path_score(crf, emissions[i], list(gold[i, :n]))
        np.testing.assert_allclose(nll[i], log_z[i] - gold_score, rtol=1e-4, atol=1e-4)


def test_crf_ignores_padding_and_trains():
    crf = _random_crf(4, 3)
    rng = np.random.RandomState(3)
    emissions = rng.randn(2, 6, 4).astype("float32")
    lengths = paddle.to_tensor([3, 6])
    tags = paddle.to_tensor(rng.randint(0, 4, size=(2, 6)))
    changed = emissions.copy()
    changed[0, 3:] = 50.0  # past the first sequence's end
    ea, eb = paddle.to_tensor(emissions), paddle.to_tensor(changed)
    np.testing.assert_allclose(crf.nll(ea, tags, lengths).numpy(), crf.nll(eb, tags, lengths).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(crf.viterbi(ea, lengths)[0].numpy()[0, :3],
                                  crf.viterbi(eb, lengths)[0].numpy()[0, :3])
    x = paddle.to_tensor(emissions, stop_gradient=False)
    crf.nll(x, tags, lengths).mean().backward()
    assert np.isfinite(x.grad.numpy()).all() and np.abs(x.grad.numpy()[0, 3:]).max() == 0.0
    assert crf.transitions.grad is not None


def test_softmax_loss_skips_padding_and_ignored_labels():
    loss = _SoftmaxLoss(3)
    rng = np.random.RandomState(0)
    emissions = paddle.to_tensor(rng.randn(2, 4, 3).astype("float32"))
    label = paddle.to_tensor([[0, 1, -100, 2], [2, 2, 1, 0]])
    seq_len = paddle.to_tensor([4, 2])
    got = float(loss(emissions, paddle.zeros([2, 4], dtype="int64"), seq_len, label))
    logp = paddle.nn.functional.log_softmax(emissions, axis=-1).numpy()
    kept = [(0, 0, 0), (0, 1, 1), (0, 3, 2), (1, 0, 2), (1, 1, 2)]
    np.testing.assert_allclose(got, -np.mean([logp[i, t, y] for i, t, y in kept]), rtol=1e-5)


# ---------------------------------------------------------------- training on MSRA-NER
MAX_SEQ_LEN = 40


@pytest.fixture(scope="module")
def msra():
    return hub.dataset.MSRA_NER(max_examples=3000)


@pytest.fixture(scope="module")
def char_bert(msra, tmp_path_factory):
    """A 1-layer BERT over the training sentences' characters (the MiniLM vocabulary lacks half of them)."""
    chars = sorted({c for example in msra.get_train_examples() for c in example.text_a})
    return hub.Module(directory=write_bert(str(tmp_path_factory.mktemp("char_bert")), tokens=chars, hidden=64))


@pytest.fixture(scope="module")
def ner_reader(msra, char_bert):
    return hub.reader.SequenceLabelReader(dataset=msra, vocab_path=char_bert.get_vocab_path(), max_seq_len=MAX_SEQ_LEN)


def _config(tmp_path, epochs=3, lr=5e-3):
    return hub.RunConfig(num_epoch=epochs, batch_size=32, log_interval=1000, checkpoint_dir=str(tmp_path / "ckpt"),
                         strategy=hub.DefaultFinetuneStrategy(learning_rate=lr, regularization_coeff=0.0))


def _prior_loss(reader, num_tags):
    """Cross-entropy on dev of always predicting the training tag frequencies: the trivial model's loss."""
    def tags(phase):
        split = reader.get_dataset(phase)
        return np.concatenate([split[i][5] for i in range(len(split))])
    prior = np.bincount(tags("train"), minlength=num_tags) / len(tags("train"))
    return float(-np.log(np.clip(prior[tags("dev")], 1e-12, None)).mean())


@pytest.mark.slow
def test_crf_task_learns_msra_entities(tmp_path, msra, char_bert, ner_reader):
    inputs, outputs, program = char_bert.context(trainable=True, max_seq_len=MAX_SEQ_LEN)
    task = hub.create_seq_label_task(outputs["sequence_output"], max_seq_len=MAX_SEQ_LEN,
                                     num_classes=msra.num_labels, add_crf=True, data_reader=ner_reader,
                                     metrics_choices=["f1", "precision", "recall"], config=_config(tmp_path))
    untrained = hub.SequenceLabelTask(outputs["sequence_output"], MAX_SEQ_LEN, msra.num_labels, add_crf=True,
                                      data_reader=ner_reader, config=_config(tmp_path / "u"))
    task.finetune_and_eval()
    dev, test = task.last_result("dev"), task.last_result("test")
    assert dev["f1"] > 0.15 and test["f1"] > 0.15  # every-"O" scores 0: no chunk is found
    untrained.eval("dev")
    assert dev["loss"] < 0.8 * untrained.last_result("dev")["loss"]

    sentence = "王小明在北京大学工作"
    tags = task.predict(data=[[sentence], ["\x02".join("中国")]], return_result=True)
    assert [len(t) for t in tags] == [len(sentence), 2]
    assert all(tag in msra.get_labels() for t in tags for tag in t)  # tag names, as PaddleHub 1.x gave


def test_softmax_task_beats_the_prior(tmp_path, msra, char_bert, ner_reader):
    inputs, outputs, program = char_bert.context(trainable=True, max_seq_len=MAX_SEQ_LEN)
    task = hub.SequenceLabelTask(outputs["sequence_output"], MAX_SEQ_LEN, msra.num_labels, data_reader=ner_reader,
                                 config=_config(tmp_path, epochs=2))
    task.finetune()
    task.eval("dev")
    result = task.last_result("dev")
    assert result["loss"] < 0.9 * _prior_loss(ner_reader, msra.num_labels)
    assert result["f1"] > 0.0  # the all-"O" baseline finds no chunk
    assert task.metric_variable_names() == ["loss", "f1"]
    assert task.variable("f1") == pytest.approx(result["f1"])
    assert task.variable("tag_ids").shape == task.variable("emissions").shape[:2]


# ---------------------------------------------------------------- bad input
def test_tag_set_that_fits_no_scheme_names_the_tags(char_bert):
    feature = char_bert.context(trainable=False)[1]["sequence_output"]
    with pytest.raises(ValueError, match="I-PER"):
        hub.SequenceLabelTask(feature, 32, 4, label_list=["B-PER", "M-PER", "I-PER", "O"])
    with pytest.raises(ValueError, match="Q-LOC"):
        hub.SequenceLabelTask(feature, 32, 3, label_list=["B-LOC", "Q-LOC", "O"])
    with pytest.raises(ValueError, match="num_classes=5"):
        hub.SequenceLabelTask(feature, 32, 5, label_list=["B-LOC", "I-LOC", "O"])
    with pytest.raises(ValueError, match="sequence_output"):
        hub.SequenceLabelTask(char_bert.context(trainable=False)[1]["pooled_output"], 32, 3,
                              label_list=["B-LOC", "I-LOC", "O"])


class _Rows(paddle.io.Dataset):
    """Ready-made model rows: input_ids, position_ids, segment_ids, input_mask, seq_len, label."""

    def __init__(self, labels, vocab=10):
        super().__init__()
        self.labels = labels
        self.vocab = vocab

    def __getitem__(self, i):
        n = len(self.labels[i])
        ids = (np.arange(n, dtype="int64") + i) % self.vocab
        return (ids, np.arange(n, dtype="int64"), np.zeros(n, "int64"), np.ones(n, "int64"),
                np.asarray(n, "int64"), np.asarray(self.labels[i], "int64"))

    def __len__(self):
        return len(self.labels)


@pytest.mark.parametrize("add_crf, bad, words", [(False, 7, "outside the tag set"),
                                                 (True, -100, "label_pad_value=-100")])
def test_tag_id_outside_the_set_names_the_example(tmp_path, char_bert, add_crf, bad, words):
    labels = [[2, 0, 1, 2]] * 6
    labels[4] = [bad, 0, 1, bad]
    feature = char_bert.context(trainable=True)[1]["sequence_output"]
    task = hub.SequenceLabelTask(feature, 32, 3, label_list=["B-LOC", "I-LOC", "O"], add_crf=add_crf,
                                 config=_config(tmp_path, epochs=1))
    with pytest.raises(LabelError, match=words) as err:
        task.finetune(_Rows(labels))
    assert "train example 4" in str(err.value)
    assert not add_crf or "[CLS]" in str(err.value)


def test_batch_longer_than_max_seq_len_is_refused(tmp_path, char_bert):
    feature = char_bert.context(trainable=True)[1]["sequence_output"]
    task = hub.SequenceLabelTask(feature, 3, 3, label_list=["B-LOC", "I-LOC", "O"], config=_config(tmp_path))
    with pytest.raises(ValueError, match="max_seq_len=3"):
        task.finetune(_Rows([[2, 0, 1, 2]] * 4))


def test_create_seq_label_task_as_paddlehub_wrote_it(char_bert, ner_reader, msra):
    inputs, outputs, program = char_bert.context(trainable=True, max_seq_len=MAX_SEQ_LEN)
    sequence_output = outputs["sequence_output"]
    seq_len = inputs  # PaddleHub passed its seq_len variable; the reader feeds it here
    seq_label_task = hub.create_seq_label_task(
        feature=sequence_output,
        seq_len=seq_len,
        num_classes=msra.num_labels,
        data_reader=ner_reader)
    assert isinstance(seq_label_task, hub.SequenceLabelTask) and not seq_label_task.add_crf
    assert seq_label_task.max_seq_len == MAX_SEQ_LEN and seq_label_task.label_list == msra.get_labels()
    assert [s.name for s in seq_label_task.input_specs][-1] == "seq_len"


def test_odd_tag_in_a_file_is_traced_to_its_line(tmp_path, char_bert):
    rows = ["北\x02京\tB-LOC\x02M-LOC", "上\x02海\tB-LOC\x02I-LOC", "好\tO"]
    (tmp_path / "train.tsv").write_text("text_a\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    dataset = hub.dataset.SequenceLabelDataset(str(tmp_path), train_file="train.tsv", train_file_with_header=True)
    reader = hub.reader.SequenceLabelReader(dataset=dataset, vocab_path=char_bert.get_vocab_path(), max_seq_len=16)
    feature = char_bert.context(trainable=False)[1]["sequence_output"]
    with pytest.raises(ValueError, match="I-LOC") as err:
        hub.SequenceLabelTask(feature, 16, dataset.num_labels, data_reader=reader)
    assert f"I-LOC first at {tmp_path / 'train.tsv'}:3" in str(err.value)
