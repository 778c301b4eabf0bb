"""Strategies: each schedule against its formula, per-block rates, gradual unfreezing, L2-SP's
pull, and the optimizers a strategy may name."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

import hubtrain as hub
from hubtrain.strategy.blocks import layer_units, split_blocks
from tiny import Digits, WeightSnapshots, ZeroBranch

OPTIMIZER_NAMES = ["sgd", "momentum", "adam", "adamw", "adagrad", "rmsprop", "lamb"]


def deep_backbone(seed=0):
    paddle.seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())


def _task(backbone, strategy=None, **cfg):
    config = hub.RunConfig(strategy=strategy, **cfg) if strategy else hub.RunConfig(**cfg)
    return hub.ImageClassifierTask(feature=backbone, num_classes=10, config=config)


def _curve(optimization, n):
    seen = []
    for _ in range(n):
        seen.append(optimization.scheduler())
        optimization.scheduler.step()
    return np.array(seen)


def _backward(task, digits, n=32):
    x = paddle.to_tensor(digits[0].x[:n])
    y = paddle.to_tensor(digits[0].y[:n].reshape(-1, 1).astype("int64"))
    loss = nn.functional.cross_entropy(task.network(x), y)
    loss.backward()


# ---------------------------------------------------------------- arguments
@pytest.mark.parametrize("make, words", [
    (lambda: hub.AdamWeightDecayStrategy(learning_rate=-1e-3), "learning_rate = -0.001"),
    (lambda: hub.AdamWeightDecayStrategy(lr_scheduler="cosine"), "lr_scheduler = 'cosine'"),
    (lambda: hub.AdamWeightDecayStrategy(warmup_proportion=1.5), "warmup_proportion = 1.5"),
    (lambda: hub.L2SPFinetuneStrategy(regularization_coeff=-1), "regularization_coeff = -1"),
    (lambda: hub.ULMFiTStrategy(cut_fraction=1.0), "cut_fraction = 1.0"),
    (lambda: hub.ULMFiTStrategy(dis_blocks=1.5), "dis_blocks = 1.5"),
    (lambda: hub.ULMFiTStrategy(frz_blocks=-1), "frz_blocks = -1"),
    (lambda: hub.ULMFiTStrategy(ratio=0.5), "ratio = 0.5"),
    (lambda: hub.ULMFiTStrategy(factor=0), "factor = 0"),
])
def test_strategies_reject_bad_values_naming_them(make, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        make()


def test_unknown_optimizer_name_lists_the_known_ones():
    with pytest.raises(ValueError) as e:
        hub.DefaultFinetuneStrategy(optimizer_name="adamax2")
    assert "'adamax2'" in str(e.value) and all(f"'{n}'" in str(e.value) for n in OPTIMIZER_NAMES)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
@pytest.mark.parametrize("make", [hub.DefaultFinetuneStrategy, hub.AdamWeightDecayStrategy,
                                  hub.L2SPFinetuneStrategy, hub.ULMFiTStrategy])
def test_every_strategy_builds_every_optimizer_and_steps(make, name, digits):
    task = _task(deep_backbone())
    opt = make(learning_rate=1e-2, optimizer_name=name).build(task.network, 20).optimizer
    before = {k: v.numpy().copy() for k, v in task.network.state_dict().items()}
    _backward(task, digits)
    opt.step()
    moved = [k for k, v in task.network.state_dict().items() if not np.array_equal(v.numpy(), before[k])]
    assert "head.1.weight" in moved and "backbone.0.weight" in moved


# ---------------------------------------------------------------- schedules
def test_linear_warmup_decay_follows_the_formula():
    task = _task(deep_backbone())
    built = hub.AdamWeightDecayStrategy(learning_rate=0.1, warmup_proportion=0.2).build(task.network, 50)
    expected = [0.1 * (t + 1) / 10 if t < 10 else 0.1 * (50 - t) / 40 for t in range(50)]
    np.testing.assert_allclose(_curve(built, 50), expected, rtol=1e-6)


def test_noam_decay_follows_the_formula():
    task = _task(deep_backbone())
    built = hub.AdamWeightDecayStrategy(learning_rate=0.1, lr_scheduler="noam_decay",
                                        warmup_proportion=0.2).build(task.network, 50)
    expected = [0.1 * min((t + 1) / 10, (10 / (t + 1)) ** 0.5) for t in range(50)]
    np.testing.assert_allclose(_curve(built, 50), expected, rtol=1e-6)


def test_slanted_triangular_follows_the_ulmfit_formula():
    task = _task(deep_backbone())
    built = hub.ULMFiTStrategy(learning_rate=0.01, cut_fraction=0.1, ratio=32).build(task.network, 200)
    curve = _curve(built, 200)
    cut = 20
    for t in (0, 7, 19, 20, 21, 100, 199):
        p = t / cut if t < cut else 1 - (t - cut) / (cut * (1 / 0.1 - 1))
        assert curve[t] == pytest.approx(0.01 * (1 + p * 31) / 32, rel=1e-6), t
    assert curve.argmax() == cut and curve[0] == pytest.approx(0.01 / 32)


def test_constant_strategies_have_no_schedule():
    for strategy in (hub.DefaultFinetuneStrategy(learning_rate=0.02), hub.L2SPFinetuneStrategy(learning_rate=0.02),
                     hub.ULMFiTStrategy(learning_rate=0.02, cut_fraction=0)):
        built = strategy.build(_task(deep_backbone()).network, 30)
        assert built.scheduler is None and built.optimizer.get_lr() == pytest.approx(0.02)


def test_weight_decay_spares_biases_and_norms():
    net = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    opt = hub.AdamWeightDecayStrategy(weight_decay=0.5).build(net, 10).optimizer
    decayed = {p.name for p in net.parameters() if opt._apply_decay_param_fun(p.name)}
    assert decayed == {net[0].weight.name, net[2].weight.name}
    sgd = hub.AdamWeightDecayStrategy(weight_decay=0.5, optimizer_name="sgd").build(net, 10)
    assert [type(p.regularizer).__name__ for p in net.parameters()] == \
        ["L2Decay", "NoneType", "NoneType", "NoneType", "L2Decay", "NoneType"]
    assert type(sgd.optimizer).__name__ == "SGD"


# ---------------------------------------------------------------- blocks and discriminative rates
def test_blocks_follow_the_layer_order_of_a_transformer(tiny_bert_dir):
    module = hub.Module(directory=tiny_bert_dir)
    _, outputs, _ = module.context(trainable=True, max_seq_len=16)
    task = hub.TextClassifierTask(feature=outputs["pooled_output"], num_classes=2)
    paths = [path for path, _ in layer_units(task.network)]
    assert paths[0].endswith("embeddings")
    layers = [p for p in paths if ".encoder.layers." in p]
    assert [p.rsplit(".", 1)[1] for p in layers] == ["0", "1"]
    assert paths[-1].startswith("head.")
    blocks = split_blocks(layer_units(task.network), 3)
    assert len(paths) == 5          # embeddings, layers 0 and 1, pooler, head
    assert [len(b) for b in blocks] == [2, 2, 1]
    assert blocks[0][0][0].endswith("embeddings") and blocks[-1][-1][0].startswith("head.")


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_discriminative_rates_fall_by_factor_per_block(optimizer_name, digits):
    task = _task(deep_backbone())   # units: backbone.0, backbone.2, backbone.4, head.1
    built = hub.ULMFiTStrategy(learning_rate=0.1, optimizer_name=optimizer_name, cut_fraction=0, dis_blocks=4,
                               factor=2.6, frz_blocks=0).build(task.network, 10)
    weights = {f"{u}.weight": None for u in ("backbone.0", "backbone.2", "backbone.4", "head.1")}
    params = dict(task.network.named_parameters())
    before = {k: params[k].numpy().copy() for k in weights}
    _backward(task, digits)
    grads = {k: params[k].grad.numpy().copy() for k in weights}
    built.optimizer.step()
    rates = []
    for k in weights:
        step = before[k] - params[k].numpy()
        g = grads[k]
        mask = np.abs(g) > 1e-4
        # sgd: step = lr * m * g; adam's first step: lr * m * g / (|g| + eps)
        per = step[mask] / (g[mask] if optimizer_name == "sgd" else np.sign(g[mask]))
        rates.append(np.median(per) / 0.1)
    np.testing.assert_allclose(rates, [2.6 ** -3, 2.6 ** -2, 2.6 ** -1, 1.0], rtol=2e-3)


def test_a_strategy_resets_what_an_earlier_one_set_on_the_same_network():
    net = _task(deep_backbone()).network
    hub.ULMFiTStrategy(dis_blocks=4).build(net, 10)
    assert sorted({p.optimize_attr["learning_rate"] for p in net.parameters()})[0] < 0.1
    hub.DefaultFinetuneStrategy(regularization_coeff=1e-3).build(net, 10)
    assert {p.optimize_attr["learning_rate"] for p in net.parameters()} == {1.0}
    assert {type(p.regularizer).__name__ for p in net.parameters()} == {"L2Decay"}
    hub.AdamWeightDecayStrategy(optimizer_name="adamw").build(net, 10)
    assert {p.regularizer for p in net.parameters()} == {None}


# ---------------------------------------------------------------- gradual unfreezing
def test_gradual_unfreezing_keeps_frozen_blocks_bit_unchanged_then_trains_them(tmp_path, digits):
    train = Digits(digits[0].x[:320], digits[0].y[:320])
    strategy = hub.ULMFiTStrategy(learning_rate=1e-2, dis_blocks=0, frz_blocks=3)
    task = _task(deep_backbone(), strategy, num_epoch=4, batch_size=32, checkpoint_dir=str(tmp_path / "ck"))
    snaps = WeightSnapshots()
    task.finetune(train, callbacks=[snaps])
    e1, e2, e3, e4, end = snaps.at   # weights when each epoch begins, and at the end
    bottom = ["backbone.0.weight", "backbone.0.bias", "backbone.2.weight", "backbone.2.bias"]
    middle = ["backbone.4.weight", "backbone.4.bias"]
    top = ["head.1.weight", "head.1.bias"]

    def same(a, b, names):
        return all(np.array_equal(a[n], b[n]) for n in names)

    assert same(e1, e2, bottom + middle) and not same(e1, e2, top)        # epoch 1: top block only
    assert same(e2, e3, bottom) and not same(e2, e3, middle)              # epoch 2: + the middle block
    assert not same(e3, e4, bottom) and not same(e4, end, bottom)         # epoch 3 on: everything
    assert not any(p.stop_gradient for p in task.network.parameters())   # all trainable again after


# ---------------------------------------------------------------- L2-SP
def test_l2sp_pulls_a_pretrained_weight_towards_its_pretrained_value_not_zero(digits):
    lr, coeff = 0.1, 0.5
    for strategy, target in ((hub.L2SPFinetuneStrategy, "pretrained"), (hub.DefaultFinetuneStrategy, "zero")):
        task = _task(ZeroBranch())
        params = dict(task.network.named_parameters())
        idle, head = params["backbone.idle.weight"], params["head.1.weight"]
        pretrained = idle.numpy().copy()
        opt = strategy(learning_rate=lr, optimizer_name="sgd", regularization_coeff=coeff).build(task.network, 10)
        drift = np.full_like(pretrained, 0.3)
        idle.set_value(pretrained + drift)             # as if earlier steps had moved it
        head_before = head.numpy().copy()
        _backward(task, digits)
        assert not np.any(idle.grad.numpy())           # no data gradient at all
        head_grad = head.grad.numpy().copy()
        opt.optimizer.step()
        if target == "pretrained":
            np.testing.assert_allclose(idle.numpy(), pretrained + drift * (1 - lr * coeff), rtol=1e-5, atol=1e-7)
        else:
            np.testing.assert_allclose(idle.numpy(), (pretrained + drift) * (1 - lr * coeff), rtol=1e-5, atol=1e-7)
        # the new head takes plain L2 either way
        np.testing.assert_allclose(head.numpy(), head_before - lr * (head_grad + coeff * head_before),
                                   rtol=1e-5, atol=1e-7)


def test_l2sp_training_leaves_a_weight_without_data_gradient_at_its_pretrained_value(tmp_path, digits):
    train = Digits(digits[0].x[:128], digits[0].y[:128])
    ends = {}
    for strategy in (hub.L2SPFinetuneStrategy, hub.DefaultFinetuneStrategy):
        backbone = ZeroBranch()
        pretrained = backbone.idle.weight.numpy().copy()
        task = _task(backbone, strategy(learning_rate=1e-2, regularization_coeff=0.1), num_epoch=2, batch_size=32,
                     checkpoint_dir=str(tmp_path / strategy.__name__))
        task.finetune(train)
        ends[strategy.__name__] = (pretrained, backbone.idle.weight.numpy())
    pretrained, after = ends["L2SPFinetuneStrategy"]
    assert np.array_equal(pretrained, after)
    pretrained, after = ends["DefaultFinetuneStrategy"]
    assert np.abs(after).sum() < np.abs(pretrained).sum()


# ---------------------------------------------------------------- the run summary
def test_run_summary_names_strategy_schedule_blocks_and_frozen_layers(tiny_bert_dir, tmp_path):
    from hubtrain.runs.summary import run_summary
    from tiny_text import sentiment_rows

    module = hub.Module(directory=tiny_bert_dir)
    _, outputs, _ = module.context(trainable=False, max_seq_len=16)
    config = hub.RunConfig(num_epoch=1, batch_size=8, checkpoint_dir=str(tmp_path / "ck"),
                           strategy=hub.ULMFiTStrategy(learning_rate=1e-3), ema_decay=0.99)
    task = hub.TextClassifierTask(feature=outputs["pooled_output"], num_classes=2, config=config)
    lines = []

    class Grab(paddle.callbacks.Callback):
        def on_train_begin(self, logs=None):
            lines.extend(run_summary(self.model))

    tokenizer = module.tokenizer
    rows = sentiment_rows(16)
    data = []
    for text, label in rows:
        ids = np.array(tokenizer(text, max_length=16, padding="max_length", truncation=True)["input_ids"])
        data.append((ids, np.arange(16), np.zeros(16, "int64"), (ids != 0).astype("int64"), np.array([int(label)])))

    class Rows(paddle.io.Dataset):
        def __getitem__(self, i):
            return data[i]

        def __len__(self):
            return len(data)

    task.finetune(Rows(), callbacks=[Grab()])
    text = "\n".join(lines)
    assert "ULMFiTStrategy" in text and "slanted triangular" in text
    assert "lr schedule" in text and "at step 1" in text
    assert "discriminative lr" in text and "gradual unfreezing" in text
    assert "frozen" in text and "embeddings" in text          # trainable=False froze the backbone
    assert "EMA 0.99" in text and "2 batches of 8" in text
    assert max(len(line) for line in lines) < 400 and len(lines) < 20


def _launch(tmp_path, variant):
    """Run scripts/strategy_launch.py in 2 CPU processes (gloo); each rank's arrays."""
    import os

    from launch import SCRIPTS, launch_two

    out = tmp_path / variant
    out.mkdir()
    done, logs = launch_two([os.path.join(SCRIPTS, "strategy_launch.py"), out, out / "ck", variant], out / "log",
                            tmp_path)
    assert done.returncode == 0, "".join(logs.values())[-3000:]
    ranks = [np.load(out / f"rank{r}.npz") for r in (0, 1)]
    assert int(ranks[0]["__world"]) == 2
    for name in ranks[0].files:
        assert np.array_equal(ranks[0][name], ranks[1][name]), name
    return ranks[0]


def test_l2sp_pull_in_two_processes(tmp_path):
    """Both ranks end identical, and a weight with no data gradient returns towards its
    pretrained value by (1 - lr * coeff) a step."""
    arrays = _launch(tmp_path, "l2sp")
    assert int(arrays["__steps"]) == 16   # 256 samples / 2 ranks / 16 per batch, 2 epochs
    drift = arrays["backbone.idle.weight"] - arrays["pretrained.idle.weight"]
    np.testing.assert_allclose(drift, 0.3 * (1 - 0.1 * 0.5) ** 16, rtol=1e-4)


def test_gradual_unfreezing_in_two_processes(tmp_path):
    """Frozen blocks stay bit-unchanged on both ranks, and the ranks never drift apart."""
    arrays = _launch(tmp_path, "ulmfit")     # blocks: backbone.0, backbone.2, head.1

    def same(e1, e2, name):
        return np.array_equal(arrays[f"epoch{e1}.{name}.weight"], arrays[f"epoch{e2}.{name}.weight"])

    assert same(0, 1, "backbone.0") and same(0, 1, "backbone.2") and not same(0, 1, "head.1")
    assert same(1, 2, "backbone.0") and not same(1, 2, "backbone.2")
    assert not np.array_equal(arrays["epoch2.backbone.0.weight"], arrays["backbone.0.weight"])


def test_a_strategy_of_ones_own_needs_only_its_schedule(tmp_path, digits):
    import math

    class Cosine(hub.FinetuneStrategy):
        def schedule(self, total_steps):
            return lambda step: 0.5 * (1 + math.cos(math.pi * step / total_steps))

    task = _task(deep_backbone(), Cosine(learning_rate=0.1), num_epoch=1, batch_size=32,
                 checkpoint_dir=str(tmp_path / "ck"))
    seen = []

    class Rates(paddle.callbacks.Callback):
        def on_train_batch_begin(self, step, logs=None):
            seen.append(self.model.optimizer.get_lr())

    task.finetune(Digits(digits[0].x[:320], digits[0].y[:320]), callbacks=[Rates()])
    np.testing.assert_allclose(seen, [0.05 * (1 + np.cos(np.pi * t / 10)) for t in range(10)], rtol=1e-6)
