"""Text modules fed `input_ids` alone, as paddlenlp's models are: positions, segments and the
attention mask take paddlenlp's defaults, in the backbone, in training, evaluation and
prediction, plain and under to_static."""
import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.engine.compile import ConvertedPerFeed

# [CLS] ... [SEP] then padding (id 0); words of tests/scripts/tiny_text.py's vocabulary
IDS = np.array([[2, 39, 37, 31, 3, 0, 0, 0],
                [2, 39, 38, 41, 34, 35, 36, 3],
                [2, 40, 42, 32, 3, 0, 0, 0],
                [2, 39, 37, 41, 33, 3, 0, 0]], dtype="int64")
LABELS = np.array([[1], [0], [1], [0]], dtype="int64")


def explicit_defaults(ids):
    """What paddlenlp's BERT and ERNIE use when the inputs are left out, written out."""
    positions = np.tile(np.arange(ids.shape[1], dtype="int64"), (ids.shape[0], 1))
    return positions, np.zeros_like(ids), (ids != 0).astype("int64")


class Rows(paddle.io.Dataset):
    """One sample per row of the given arrays, as a tuple of fields."""

    def __init__(self, *columns):
        self.columns = columns

    def __getitem__(self, i):
        return tuple(c[i] for c in self.columns)

    def __len__(self):
        return len(self.columns[0])


@pytest.fixture(scope="module")
def tiny_ernie_dir(tmp_path_factory):
    from tiny_text import write_tiny_family
    return write_tiny_family(str(tmp_path_factory.mktemp("tiny_ernie")), "ernie")


@pytest.mark.parametrize("family", ["bert", "ernie"])
def test_input_ids_alone_equal_the_explicit_defaults(family, tiny_bert_dir, tiny_ernie_dir):
    module = hub.Module(directory=tiny_bert_dir if family == "bert" else tiny_ernie_dir)
    module.backbone.eval()
    ids = paddle.to_tensor(IDS)
    alone = module.backbone(ids)
    given = module.backbone(ids, *(paddle.to_tensor(a) for a in explicit_defaults(IDS)))
    for a, b in zip(alone, given):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # the default mask leaves the padding out: all ones would change the padded rows
    ones = module.backbone(ids, input_mask=paddle.ones_like(ids))
    assert not np.allclose(ones[1].numpy()[0], alone[1].numpy()[0])
    np.testing.assert_array_equal(ones[1].numpy()[1], alone[1].numpy()[1])  # the row without padding


def test_an_input_of_another_shape_is_refused_naming_it(tiny_bert_dir):
    module = hub.Module(directory=tiny_bert_dir)
    ids = paddle.to_tensor(IDS)
    with pytest.raises(ValueError, match=r"position_ids has shape \[4, 1\], but input_ids has \[4, 8\]"):
        module.backbone(ids, paddle.to_tensor(LABELS))


def test_train_batch_on_input_ids_alone_lowers_the_loss(tiny_bert_dir):
    paddle.seed(0)
    task = hub.TextClassifierTask(feature=hub.Module(directory=tiny_bert_dir), num_classes=2, dropout=0.0,
                                  config=hub.RunConfig(seed=0))
    task.prepare(paddle.optimizer.Adam(learning_rate=1e-2, parameters=task.parameters()))
    losses = [float(task.train_batch([IDS], [LABELS])[0][0]) for _ in range(10)]
    assert losses[-1] < 0.5 * losses[0], losses


def test_fit_under_to_static_on_input_ids_alone_lowers_the_loss(tiny_bert_dir, tmp_path):
    paddle.seed(0)
    task = hub.TextClassifierTask(feature=hub.Module(directory=tiny_bert_dir), num_classes=2, dropout=0.0,
                                  config=hub.RunConfig(to_static=True, seed=0, checkpoint_dir=str(tmp_path)))
    task.prepare(paddle.optimizer.Adam(learning_rate=1e-2, parameters=task.parameters()))
    data = Rows(IDS, LABELS)
    before = task.evaluate(data, batch_size=4, verbose=0)["loss"]
    task.fit(data, batch_size=4, epochs=10, shuffle=False, verbose=0)
    after = task.evaluate(data, batch_size=4, verbose=0)["loss"]
    assert after < 0.5 * before, (before, after)
    assert list(task.network.forward.converted) == [1]  # converted, not fallen back to dygraph


@pytest.mark.parametrize("to_static", [False, True])
def test_evaluate_and_predict_on_input_ids_alone_match_the_full_inputs(to_static, tiny_bert_dir):
    paddle.seed(0)
    task = hub.TextClassifierTask(feature=hub.Module(directory=tiny_bert_dir), num_classes=2,
                                  config=hub.RunConfig(to_static=to_static, seed=0))
    task.prepare()
    full = explicit_defaults(IDS)
    short = task.evaluate(Rows(IDS, LABELS), batch_size=2, verbose=0)
    whole = task.evaluate(Rows(IDS, *full, LABELS), batch_size=2, verbose=0)
    assert set(short) == {"loss", "acc"}
    np.testing.assert_allclose(short["loss"], whole["loss"], rtol=1e-6)
    assert short["acc"] == whole["acc"]
    alone = task.predict(Rows(IDS), batch_size=2, stack_outputs=True, verbose=0)[0]
    given = task.predict(Rows(IDS, *full), batch_size=2, stack_outputs=True, verbose=0)[0]
    assert alone.shape == (4, 2)
    np.testing.assert_allclose(alone, given, rtol=1e-5, atol=1e-6)
    if to_static:
        assert isinstance(task.network.forward, ConvertedPerFeed)
        assert sorted(task.network.forward.converted) == [1, 4]


def test_a_head_with_its_own_input_takes_it_after_input_ids_alone(tiny_bert_dir):
    """The sequence labeller's seq_len follows the backbone's inputs, however many are fed."""
    paddle.seed(0)
    task = hub.SequenceLabelTask(feature=hub.Module(directory=tiny_bert_dir), max_seq_len=8, num_classes=3,
                                 label_list=["B-X", "I-X", "O"], config=hub.RunConfig(to_static=True, seed=0))
    task.prepare()
    seq_len = (IDS != 0).sum(axis=1).astype("int64")
    tags = np.where(IDS == 39, 0, np.where(IDS == 37, 1, 2)).astype("int64")
    short = task.evaluate(Rows(IDS, seq_len, tags), batch_size=2, verbose=0)
    whole = task.evaluate(Rows(IDS, *explicit_defaults(IDS), seq_len, tags), batch_size=2, verbose=0)
    np.testing.assert_allclose(short["loss"], whole["loss"], rtol=1e-6)
    assert short["f1"] == whole["f1"]
    assert sorted(task.network.forward.converted) == [1, 4]
