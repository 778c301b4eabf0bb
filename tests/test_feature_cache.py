"""A backbone frozen for a whole run: it runs in eval mode, its features are computed once per
example and read back afterwards, and the run's results equal a run without the cache."""
import json
import os

import numpy as np
import paddle
import paddle.nn as nn
import pytest

import hubtrain as hub
from hubtrain.tasks.feature_cache import FeatureStore, row_keys, weights_digest


def frozen_backbone(seed=0):
    """Dropout and batch statistics: both would change the features from epoch to epoch in train mode."""
    paddle.seed(seed)
    net = nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1D(64), nn.ReLU(), nn.Dropout(0.3))
    for p in net.parameters():
        p.stop_gradient = True
    return net


def finetune(splits, directory, feature_cache=True, net=None, epochs=3):
    train, dev, test = splits
    net = net or frozen_backbone()
    config = hub.RunConfig(num_epoch=epochs, batch_size=32, seed=42, eval_interval=20, feature_cache=feature_cache,
                           checkpoint_dir=str(directory), use_vdl=False,
                           strategy=hub.AdamWeightDecayStrategy(learning_rate=1e-2))
    task = hub.ImageClassifierTask(feature=net, num_classes=10, feature_dim=64, config=config)
    task.finetune_and_eval(train, dev, test)
    return task


def head_weights(task):
    return {k: v.numpy() for k, v in task.network.head.state_dict().items()}


def test_results_equal_a_run_without_the_cache(digits, tmp_path):
    plain = finetune(digits, tmp_path / "plain", feature_cache=False)
    cached = finetune(digits, tmp_path / "cached")
    a, b = head_weights(plain), head_weights(cached)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert plain.last_result("test") == cached.last_result("test")
    assert cached.last_result("test")["acc"] > 0.6  # the head learned from the cached features (chance: 0.1)
    # every train, dev and test example computed once; 2 more epochs of train and the later dev
    # evaluations read back
    cache = cached.current_run.frozen.cache
    assert cache.computed == 1200 + 300 + 297
    assert cache.read >= 2 * 1200 + 300
    assert plain.current_run.frozen.cache is None


def test_a_frozen_backbone_trains_in_eval_mode_and_gets_train_mode_back(digits, tmp_path):
    from hubtrain.engine.events import Callback

    seen = []

    class Modes(Callback):
        def batch_end(self, loop):
            if loop.phase == "train":
                seen.append((loop.model.network.training, loop.model.network.backbone.training,
                             loop.model.network.head.training))

    task = hub.ImageClassifierTask(feature=frozen_backbone(), num_classes=10, feature_dim=64,
                                   config=hub.RunConfig(use_vdl=False))
    task.prepare(paddle.optimizer.Adam(parameters=task.parameters()))
    task.fit(digits[0], batch_size=64, epochs=1, verbose=0, callbacks=[Modes()])
    assert seen and all(s == (True, False, True) for s in seen)
    task.network.train()
    assert task.network.backbone.training  # after the run, train() reaches the backbone again

    # a backbone that trains stays in train mode
    seen.clear()
    trainable = hub.ImageClassifierTask(feature=nn.Sequential(nn.Linear(64, 64), nn.Dropout(0.3)), num_classes=10,
                                        feature_dim=64, config=hub.RunConfig(use_vdl=False))
    trainable.prepare(paddle.optimizer.Adam(parameters=trainable.parameters()))
    trainable.fit(digits[0], batch_size=64, epochs=1, verbose=0, callbacks=[Modes()])
    assert seen and all(s == (True, True, True) for s in seen)
    assert trainable.current_run.frozen is None


def test_the_cache_is_plain_files_another_run_reads_and_other_weights_never(digits, tmp_path):
    first = finetune(digits, tmp_path / "run", epochs=1)
    directory = first.current_run.frozen.cache.directory
    assert sorted(os.listdir(directory)) == ["features.bin", "keys.bin", "meta.json"]
    meta = json.load(open(os.path.join(directory, "meta.json")))
    assert meta["shape"] == [64] and os.path.getsize(os.path.join(directory, "keys.bin")) == 16 * 1797
    assert os.path.getsize(os.path.join(directory, "features.bin")) == 4 * 64 * 1797

    again = finetune(digits, tmp_path / "run", epochs=1)  # resumed at its end: dev and test read back
    assert (again.current_run.frozen.cache.computed, again.current_run.frozen.cache.read) == (0, 300 + 297)
    for name, value in head_weights(first).items():
        np.testing.assert_array_equal(head_weights(again)[name], value)

    # other weights: another directory, nothing read (this run resumes at its end, so it only
    # evaluates dev and test)
    third = finetune(digits, tmp_path / "run", epochs=1, net=frozen_backbone(seed=1))
    assert third.current_run.frozen.cache.directory != directory
    assert (third.current_run.frozen.cache.computed, third.current_run.frozen.cache.read) == (300 + 297, 0)


def test_a_store_cut_short_keeps_its_complete_rows(tmp_path):
    store = FeatureStore(str(tmp_path), (3,), "float32")
    keys = [bytes([i]) * 16 for i in range(4)]
    store.append(keys, np.arange(12, dtype="float32").reshape(4, 3))
    store.close()
    with open(tmp_path / "features.bin", "r+b") as f:
        f.truncate(4 * 3 * 3 + 5)  # a write torn in the fourth row
    store = FeatureStore(str(tmp_path), (3,), "float32")
    assert store.rows == 3 and store.rows_of(keys) == [0, 1, 2, None]
    np.testing.assert_array_equal(store.take([2, 0]), [[6, 7, 8], [0, 1, 2]])
    store.close()
    other = FeatureStore(str(tmp_path), (4,), "float32")  # another shape: starts empty
    assert other.rows == 0


def test_keys_leave_out_the_padding_a_mask_hides():
    ids = np.array([[2, 7, 9, 3, 0, 0], [2, 7, 9, 3, 5, 3]])
    positions = np.tile(np.arange(6), (2, 1))  # positions keep counting over the pads
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    short = [a[:, :4] for a in (ids, positions, mask)]
    padded = row_keys([ids, positions, mask], mask_index=2)
    assert row_keys(short, mask_index=2)[0] == padded[0]
    assert padded[0] != padded[1]
    assert row_keys([ids, positions, mask])[0] != row_keys(short)[0]  # without a mask: every byte counts


def test_text_features_are_read_back_whatever_the_batch_padding(tiny_bert_dir, tmp_path):
    from tiny_text import sentiment_rows, sentiment_task

    results = {}
    for cache in (False, True):
        task, _ = sentiment_task(tiny_bert_dir, tmp_path, 64, trainable=False, num_epoch=3, batch_size=8, seed=1,
                                 feature_cache=cache, checkpoint_dir=str(tmp_path / f"ck{cache}"))
        task.finetune()
        results[cache] = task
    cache = results[True].current_run.frozen.cache
    # each distinct review computed once, whatever the padding of the batch it came in
    assert cache.store.rows == len({text for text, _ in sentiment_rows(64)}) < 64
    assert cache.computed < 64 + 8  # the first epoch, and no more (a batch may hold one review twice)
    assert cache.computed + cache.read == 3 * 64
    for name, value in head_weights(results[False]).items():
        np.testing.assert_allclose(value, head_weights(results[True])[name], rtol=0, atol=1e-6)


class Noisy(paddle.io.Dataset):
    """Training-time augmentation: every read of a sample differs."""

    def __init__(self, data):
        super().__init__()
        self.data = data

    def __getitem__(self, i):
        x, y = self.data[i]
        return (x + np.random.normal(0, 0.01, x.shape)).astype("float32"), y

    def __len__(self):
        return len(self.data)


def test_augmented_data_are_not_cached_and_the_summary_says_why(digits, tmp_path):
    task = finetune((Noisy(digits[0]), digits[1], digits[2]), tmp_path / "run", epochs=1)
    frozen = task.current_run.frozen
    assert frozen.cache is None and "differ each time they are read" in frozen.describe()


def test_data_that_change_every_epoch_turn_the_cache_off(digits, tmp_path, hub_warnings):
    loader = paddle.io.DataLoader(Noisy(digits[0]), batch_size=32, shuffle=True)  # cannot be read twice up front
    net = frozen_backbone()
    task = hub.ImageClassifierTask(feature=net, num_classes=10, feature_dim=64,
                                   config=hub.RunConfig(use_vdl=False, checkpoint_dir=str(tmp_path / "run")))
    task.prepare(paddle.optimizer.Adam(parameters=task.parameters()))
    task.fit(loader, epochs=3, verbose=0)
    cache = task.current_run.frozen.cache
    assert not cache.enabled and "the data change from epoch to epoch" in hub_warnings.text
    assert cache.computed == 2 * 1200  # epoch 3 ran the backbone without the cache


def test_to_static_and_a_switch_leave_the_cache_out(digits, tmp_path):
    for options, why in (({"to_static": True}, "to_static"), ({"feature_cache": False}, "feature_cache=False")):
        config = hub.RunConfig(use_vdl=False, num_epoch=1, checkpoint_dir=str(tmp_path / why), **options)
        task = hub.ImageClassifierTask(feature=frozen_backbone(), num_classes=10, feature_dim=64, config=config,
                                       inputs=[paddle.static.InputSpec([None, 64], "float32", "x")])
        task.finetune(digits[0])
        assert task.current_run.frozen.cache is None and why in task.current_run.frozen.describe()
    with pytest.raises(ValueError, match="feature_cache"):
        hub.RunConfig(feature_cache="yes")


def test_the_digest_follows_the_weights():
    net = frozen_backbone()
    before = weights_digest(net)
    assert weights_digest(frozen_backbone()) == before
    net[0].weight.set_value(net[0].weight.numpy() + 1e-7)
    assert weights_digest(net) != before
