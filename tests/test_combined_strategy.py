"""CombinedStrategy (PaddleHub 1.x's strategy of parts): each schedule against its formula, each
regulariser's effect on a step, clipping's bound, block plans, the add_* methods, the way parts
that cannot act together are settled, and bad keys."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

import hubtrain as hub
from hubtrain.strategy import CombinedStrategy
from tiny import Digits, WeightSnapshots, ZeroBranch, mlp_backbone


def _task(backbone=None, strategy=None, **cfg):
    config = hub.RunConfig(strategy=strategy, **cfg) if strategy else hub.RunConfig(**cfg)
    return hub.ImageClassifierTask(feature=backbone or mlp_backbone(), num_classes=10, config=config)


def _curve(optimization, n):
    if optimization.scheduler is None:
        return np.full(n, optimization.optimizer.get_lr())
    seen = []
    for _ in range(n):
        seen.append(optimization.scheduler())
        optimization.scheduler.step()
    return np.array(seen)


def _backward(task, digits, n=32, scale=1.0):
    x = paddle.to_tensor(digits[0].x[:n])
    y = paddle.to_tensor(digits[0].y[:n].reshape(-1, 1).astype("int64"))
    (nn.functional.cross_entropy(task.network(x), y) * scale).backward()


def _params(task):
    return dict(task.network.named_parameters())


def _values(task):
    return {k: p.numpy().copy() for k, p in _params(task).items()}


def _grads(task):
    return {k: p.grad.numpy().copy() for k, p in _params(task).items()}


# ---------------------------------------------------------------- schedules
LR, T = 0.1, 50


def _linear(t, warmup, start, end):
    if t < warmup:
        return LR * (t + 1) / warmup
    if t < start:
        return LR
    return end + (LR - end) * (T - t) / (T - start)


SCHEDULES = {
    "constant": ({}, lambda t: LR),
    "warmup": ({"warmup": 0.2}, lambda t: _linear(t, 10, T, 0)),
    "linear_decay": ({"linear_decay": {"start_point": 0.4, "end_learning_rate": 0.01}},
                     lambda t: _linear(t, 0, 20, 0.01)),
    "warmup_linear_decay": ({"warmup": 0.1, "linear_decay": {"start_point": 0.3, "end_learning_rate": 0.0}},
                            lambda t: _linear(t, 5, 15, 0.0)),
    "noam_decay": ({"warmup": 0.2, "noam_decay": True}, lambda t: LR * min((t + 1) / 10, (10 / (t + 1)) ** 0.5)),
    "slanted_triangle": ({"slanted_triangle": {"cut_fraction": 0.2, "ratio": 8}},
                         lambda t: LR * (1 + (t / 10 if t < 10 else 1 - (t - 10) / 40) * 7) / 8),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_each_schedule_follows_its_formula(name):
    scheduler, formula = SCHEDULES[name]
    built = CombinedStrategy(learning_rate=LR, scheduler=scheduler).build(_task().network, T)
    np.testing.assert_allclose(_curve(built, T), [formula(t) for t in range(T)], rtol=1e-6)
    assert (built.scheduler is None) == (name == "constant")


def test_warmup_and_linear_decay_from_its_end_is_adam_weight_decay_strategys_schedule():
    combined = CombinedStrategy(learning_rate=LR, scheduler={"warmup": 0.1, "linear_decay": {"start_point": 0.1}},
                                regularization={"weight_decay": 0.01})
    named = hub.AdamWeightDecayStrategy(learning_rate=LR, warmup_proportion=0.1, weight_decay=0.01)
    np.testing.assert_array_equal(_curve(combined.build(_task().network, T), T),
                                  _curve(named.build(_task().network, T), T))


def test_a_real_run_steps_the_optimizers_rate_along_the_schedule_and_the_summary_says_so(tmp_path, digits):
    from hubtrain.runs.summary import run_summary

    strategy = CombinedStrategy(learning_rate=LR, scheduler={"warmup": 0.2, "linear_decay": {"start_point": 0.5}},
                                clip={"GlobalNorm": 5.0})
    task = _task(strategy=strategy, num_epoch=1, batch_size=32, checkpoint_dir=str(tmp_path / "ck"))
    seen, lines = [], []

    class Rates(paddle.callbacks.Callback):
        def on_train_begin(self, logs=None):
            lines.extend(run_summary(self.model))

        def on_train_batch_begin(self, step, logs=None):
            seen.append(self.model.optimizer.get_lr())

    task.finetune(Digits(digits[0].x[:320], digits[0].y[:320]), callbacks=[Rates()])
    t_ = 10   # 320 / 32 steps: warm-up 2 steps, flat to step 5, then down to 0 at step 10
    expected = [LR * (t + 1) / 2 if t < 2 else LR if t < 5 else LR * (t_ - t) / 5 for t in range(t_)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6)
    strategy_line = next(line for line in lines if line.startswith("strategy"))
    assert "CombinedStrategy(adam, peak lr=0.1, 2 warm-up steps of 10" in strategy_line
    assert "linear decay from step 6 to 0" in strategy_line and "clip global norm 5" in strategy_line


# ---------------------------------------------------------------- regularisation
def _sgd_step(regularization, digits, drift=0.3, lr=0.1):
    """One SGD step of a CombinedStrategy: (values before, gradients, values after, pretrained values)."""
    task = _task(ZeroBranch())
    pretrained = _values(task)
    built = CombinedStrategy("sgd", lr, regularization=regularization).build(task.network, 10)
    for name, p in _params(task).items():      # as if earlier steps had moved every weight
        if name.startswith("backbone."):
            p.set_value(pretrained[name] + drift)
    before = _values(task)
    _backward(task, digits)
    grads = _grads(task)
    built.optimizer.step()
    return before, grads, _values(task), pretrained


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_l2_pulls_every_parameter_towards_zero(digits):
    lr, c = 0.1, 0.5
    before, grads, after, _ = _sgd_step({"L2": c}, digits, lr=lr)
    for name in before:
        _close(after[name], before[name] - lr * (grads[name] + c * before[name]))
    assert not np.any(grads["backbone.idle.weight"])


def test_l2sp_pulls_pretrained_weights_towards_their_pretrained_values_and_leaves_the_head(digits):
    lr, c = 0.1, 0.5
    before, grads, after, pretrained = _sgd_step({"L2SP": c}, digits, lr=lr)
    for name in before:
        if name.startswith("backbone."):
            _close(after[name], before[name] - lr * (grads[name] + c * (before[name] - pretrained[name])))
        else:   # the new head: no penalty unless L2 is set too (PaddleHub 1.x's L2SP alone)
            _close(after[name], before[name] - lr * grads[name])
    # the weight without data gradient moved back towards its pretrained value, not towards 0
    _close(after["backbone.idle.weight"] - pretrained["backbone.idle.weight"], np.full((64, 32), 0.3 * (1 - lr * c)))


def test_l2sp_with_l2_puts_l2_on_the_head_only(digits):
    lr, a, b = 0.1, 0.5, 0.2
    before, grads, after, pretrained = _sgd_step({"L2SP": a, "L2": b}, digits, lr=lr)
    _close(after["head.1.weight"], before["head.1.weight"] - lr * (grads["head.1.weight"] + b * before["head.1.weight"]))
    name = "backbone.used.weight"
    _close(after[name], before[name] - lr * (grads[name] + a * (before[name] - pretrained[name])))


def test_weight_decay_with_sgd_is_l2_on_weights_sparing_biases(digits):
    lr, wd = 0.1, 0.5
    before, grads, after, _ = _sgd_step({"weight_decay": wd}, digits, lr=lr)
    for name in before:
        decay = 0.0 if name.endswith("bias") else wd * before[name]
        _close(after[name], before[name] - lr * (grads[name] + decay))


def test_weight_decay_and_l2sp_with_sgd_add_up(digits):
    lr, a, wd = 0.1, 0.5, 0.2
    before, grads, after, pretrained = _sgd_step({"L2SP": a, "weight_decay": wd}, digits, lr=lr)
    name = "backbone.idle.weight"
    _close(after[name], before[name] - lr * (grads[name] + a * (before[name] - pretrained[name]) + wd * before[name]))
    name = "backbone.idle.bias"     # spared from the decay, still pulled towards its pretrained value
    _close(after[name], before[name] - lr * (grads[name] + a * (before[name] - pretrained[name])))


def test_weight_decay_with_adam_is_decoupled_and_spares_biases(digits):
    lr, wd = 0.01, 0.5
    ends = {}
    for decay in (0.0, wd):
        task = _task()
        before = _values(task)
        built = CombinedStrategy("adam", lr, regularization={"weight_decay": decay}).build(task.network, 10)
        _backward(task, digits)
        built.optimizer.step()
        ends[decay] = _values(task)
    for name in before:
        shrink = 0.0 if name.endswith("bias") else lr * wd * before[name]   # w (1 - lr wd), then Adam's own step
        _close(ends[wd][name], ends[0.0][name] - shrink)
    assert type(built.optimizer).__name__ == "AdamW"


# ---------------------------------------------------------------- clipping
def _clipped_step(clip, digits, run_clip=None):
    """One SGD step at lr 1 on a loss scaled up so every gradient is large: (gradients, update)."""
    task = _task()
    built = CombinedStrategy("sgd", 1.0, clip=clip).build(task.network, 10, run_clip)
    before = _values(task)
    _backward(task, digits, scale=1000.0)
    grads = _grads(task)
    built.optimizer.step()
    return built, grads, {k: before[k] - v for k, v in _values(task).items()}


def test_global_norm_clip_bounds_the_norm_of_all_gradients(digits):
    built, grads, update = _clipped_step({"GlobalNorm": 2.0}, digits)
    assert np.sqrt(sum((g ** 2).sum() for g in grads.values())) > 100
    assert np.sqrt(sum((u ** 2).sum() for u in update.values())) == pytest.approx(2.0, rel=1e-4)
    assert isinstance(built.grad_clip, paddle.nn.ClipGradByGlobalNorm)


def test_norm_clip_bounds_each_gradients_own_norm(digits):
    _, grads, update = _clipped_step({"Norm": 0.5}, digits)
    for name, g in grads.items():
        expected = min(0.5, np.linalg.norm(g))
        assert np.linalg.norm(update[name]) == pytest.approx(expected, rel=1e-4), name


def test_the_runs_clip_is_used_when_the_strategy_sets_none_and_equal_global_norms_agree(digits):
    run_clip = paddle.nn.ClipGradByGlobalNorm(2.0)
    built, _, update = _clipped_step({}, digits, run_clip)
    assert built.grad_clip is run_clip
    assert np.sqrt(sum((u ** 2).sum() for u in update.values())) == pytest.approx(2.0, rel=1e-4)
    assert CombinedStrategy(clip={"GlobalNorm": 2.0}).build(_task().network, 10, run_clip).grad_clip is run_clip


@pytest.mark.parametrize("clip", [{"GlobalNorm": 1.0}, {"Norm": 2.0}])
def test_a_strategy_clip_and_a_different_run_clip_are_refused_before_training(clip, tmp_path, digits):
    strategy = CombinedStrategy(clip=clip)
    task = _task(strategy=strategy, num_epoch=1, batch_size=32, grad_clip_norm=2.0,
                 checkpoint_dir=str(tmp_path / "ck"))
    before = _values(task)
    with pytest.raises(ValueError, match=r"clipped twice: RunConfig\(grad_clip_norm=2.0\) and CombinedStrategy"):
        task.finetune(Digits(digits[0].x[:64], digits[0].y[:64]))
    assert all(np.array_equal(v, before[k]) for k, v in _values(task).items())
    assert not (tmp_path / "ck").exists() or not any(p.name.startswith("step") for p in (tmp_path / "ck").iterdir())


# ---------------------------------------------------------------- blocks
def deep_backbone(seed=0):
    paddle.seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())


def _rates(network):
    return {name: p.optimize_attr["learning_rate"] for name, p in network.named_parameters()}


def test_discriminative_blocks_give_ulmfits_rates():
    combined, ulmfit = _task(deep_backbone()).network, _task(deep_backbone()).network
    built = CombinedStrategy(scheduler={"discriminative": {"blocks": 4, "factor": 2.0}}).build(combined, 10)
    hub.ULMFiTStrategy(cut_fraction=0, dis_blocks=4, factor=2.0, frz_blocks=0).build(ulmfit, 10)
    assert _rates(combined) == _rates(ulmfit)
    assert _rates(combined)["backbone.0.weight"] == pytest.approx(2.0 ** -3)
    assert any("discriminative lr, 4 block(s)" in note for note in built.notes)


def test_discriminative_params_layer_rates_by_layer_number_with_structured_or_tensor_names():
    network = _task(deep_backbone()).network
    params = _params_of(network)
    layers = {"head.1.weight": 3, params["backbone.2.weight"].name: 1, "backbone.0.weight": 0}
    CombinedStrategy(scheduler={"discriminative": {"params_layer": layers, "factor": 3.0}}).build(network, 10)
    rates = _rates(network)
    assert rates["head.1.weight"] == 1.0 and rates["backbone.2.weight"] == pytest.approx(1 / 9)
    assert rates["backbone.0.weight"] == pytest.approx(1 / 27)
    assert rates["backbone.0.bias"] == 1.0 and rates["backbone.4.weight"] == 1.0   # not named: full rate


def _params_of(network):
    return dict(network.named_parameters())


def test_gradual_unfreeze_by_params_layer_trains_layers_from_the_top_one_epoch_at_a_time(tmp_path, digits):
    # layer 1 is empty: the bottom layer waits two epochs (a layer trains from epoch max - layer + 1)
    layers = {"head.1.weight": 2, "head.1.bias": 2, "backbone.0.weight": 0}
    strategy = CombinedStrategy(learning_rate=1e-2, scheduler={"gradual_unfreeze": {"params_layer": layers}})
    task = _task(strategy=strategy, num_epoch=3, batch_size=32, checkpoint_dir=str(tmp_path / "ck"))
    snaps = WeightSnapshots()
    task.finetune(Digits(digits[0].x[:128], digits[0].y[:128]), callbacks=[snaps])
    e1, e2, e3, end = snaps.at

    def moved(a, b, name):
        return not np.array_equal(a[name], b[name])

    assert moved(e1, e2, "head.1.weight") and moved(e1, e2, "backbone.0.bias")   # bias: not in params_layer
    assert not moved(e1, e2, "backbone.0.weight") and not moved(e2, e3, "backbone.0.weight")
    assert moved(e3, end, "backbone.0.weight")
    assert not any(p.stop_gradient for p in task.network.parameters())


def test_params_layer_naming_no_parameter_is_refused_naming_it():
    strategy = CombinedStrategy(scheduler={"gradual_unfreeze": {"params_layer": {"encoder_layer_0.w_0": 1}}})
    with pytest.raises(ValueError, match=r"'encoder_layer_0.w_0', which is not a parameter of the network: "
                                         r"use its structured names \(e.g. backbone.0.weight"):
        strategy.build(_task().network, 10)


# ---------------------------------------------------------------- defaults and a real task
def test_defaults_train_an_image_classifier_whose_accuracy_rises(tmp_path, digits):
    strategy = CombinedStrategy()
    assert strategy.describe(100) == "CombinedStrategy(adam, lr=0.0001 constant, no regularisation)"
    task = _task(strategy=strategy, num_epoch=8, batch_size=16, checkpoint_dir=str(tmp_path / "ck"), seed=1)
    dev = digits[1]
    first = task.evaluate(dev, batch_size=100, verbose=0)["acc"]
    task.finetune(digits[0])
    last = task.evaluate(dev, batch_size=100, verbose=0)["acc"]
    assert last > first + 0.3, (first, last)
    assert task.current_run.optimization.scheduler is None and task.current_run.optimization.callbacks == []


# ---------------------------------------------------------------- add_* and settled conflicts
def test_add_methods_set_parts_like_the_constructors_dicts():
    added = CombinedStrategy("sgd", LR)
    added.add_scheduler("warmup", 0.2)
    added.add_scheduler("linear_decay", start_point=0.4, end_learning_rate=0.01)
    added.add_scheduler("gradual_unfreeze", 2)          # PaddleHub 1.x before 1.6: the number of blocks
    added.add_scheduler("discriminative", blocks=3)
    added.add_regularization("L2SP", 0.01)
    added.add_regularization()                          # PaddleHub 1.x's default: L2 1e-3
    added.add_clip("Norm", 2.0)
    given = CombinedStrategy("sgd", LR, scheduler={"warmup": 0.2,
                                                   "linear_decay": {"start_point": 0.4, "end_learning_rate": 0.01},
                                                   "gradual_unfreeze": {"blocks": 2}, "discriminative": {"blocks": 3}},
                             regularization={"L2SP": 0.01, "L2": 1e-3}, clip={"Norm": 2.0})
    assert (added.scheduler, added.regularization, added.clip) == (given.scheduler, given.regularization, given.clip)
    assert added.scheduler["discriminative"]["factor"] == 2.6       # untouched keys keep their defaults
    np.testing.assert_allclose(_curve(added.build(_task(deep_backbone()).network, T), T),
                               [_linear(t, 10, 20, 0.01) for t in range(T)], rtol=1e-6)
    assert added.describe(T) == (
        "CombinedStrategy(sgd, peak lr=0.1, 10 warm-up steps of 50, then linear decay from step 21 to 0.01, "
        "discriminative lr 3 blocks / factor 2.6, gradual unfreezing 2 blocks, L2 0.001 on the new layers, "
        "L2-SP 0.01 towards the pretrained weights, clip each gradient's norm to 2)")


def test_a_refused_add_leaves_the_strategy_as_it_was():
    strategy = CombinedStrategy(scheduler={"linear_decay": {"start_point": 0.5}})
    with pytest.raises(ValueError, match=r"scheduler\['linear_decay'\] has no key 'end_lr': the accepted keys are "
                                         r"\['start_point', 'end_learning_rate'\]"):
        strategy.add_scheduler("linear_decay", start_point=0.2, end_lr=0.0)
    assert strategy.scheduler["linear_decay"] == {"start_point": 0.5, "end_learning_rate": 0.0}


@pytest.mark.parametrize("scheduler, clip, warning, formula", [
    ({"slanted_triangle": {"cut_fraction": 0.2, "ratio": 8}, "warmup": 0.1}, {},
     "the slanted triangle takes effect", SCHEDULES["slanted_triangle"][1]),
    ({"noam_decay": True, "warmup": 0.2, "linear_decay": {"start_point": 0.5}}, {},
     "noam_decay takes effect", SCHEDULES["noam_decay"][1]),
    ({"noam_decay": True}, {}, "the learning rate stays constant", lambda t: LR),
    ({"warmup": 0.2, "linear_decay": {"start_point": 0.1}}, {},
     "the decay starts when the warm-up ends", lambda t: _linear(t, 10, 10, 0)),
    ({}, {"GlobalNorm": 1.0, "Norm": 0.5}, "GlobalNorm takes effect", lambda t: LR),
    ({"discriminative": {"blocks": 2, "params_layer": {"head.1.weight": 1, "backbone.0.weight": 0}}}, {},
     "params_layer takes effect", lambda t: LR),
])
def test_parts_that_cannot_act_together_are_settled_as_paddlehub_did_with_a_warning(scheduler, clip, warning,
                                                                                     formula, hub_warnings):
    network = _task(deep_backbone()).network
    built = CombinedStrategy(learning_rate=LR, scheduler=scheduler, clip=clip).build(network, T)
    assert warning in hub_warnings.text
    np.testing.assert_allclose(_curve(built, T), [formula(t) for t in range(T)], rtol=1e-6)
    if clip:
        assert isinstance(built.grad_clip, paddle.nn.ClipGradByGlobalNorm)
    if "discriminative" in scheduler:   # by params_layer: one weight a layer below, everything else at 1
        assert sorted(set(_rates(network).values())) == [1 / 2.6, 1.0]


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, words", [
    ({"scheduler": {"warmpu": 0.1}}, "scheduler has no key 'warmpu': the accepted keys are ['warmup', 'linear_decay', "
                                     "'noam_decay', 'discriminative', 'gradual_unfreeze', 'slanted_triangle']"),
    ({"scheduler": {"slanted_triangle": {"cut": 0.1}}},
     "scheduler['slanted_triangle'] has no key 'cut': the accepted keys are ['cut_fraction', 'ratio']"),
    ({"scheduler": {"linear_decay": 0.1}},
     "scheduler['linear_decay'] = 0.1 is not accepted: use a dict with some of the keys ['start_point'"),
    ({"regularization": {"l2": 1e-3}}, "regularization has no key 'l2': the accepted keys are ['L2', 'L2SP', "
                                       "'weight_decay']"),
    ({"clip": {"global_norm": 1.0}}, "clip has no key 'global_norm': the accepted keys are ['GlobalNorm', 'Norm']"),
    ({"clip": 1.0}, "clip = 1.0 is not accepted: use a dict with some of the keys ['GlobalNorm', 'Norm'], or None"),
    ({"scheduler": {"warmup": 1.5}}, "scheduler['warmup'] = 1.5 is not accepted: use a number in [0, 1]"),
    ({"scheduler": {"noam_decay": "yes"}}, "scheduler['noam_decay'] = 'yes' is not accepted: use True or False"),
    ({"scheduler": {"discriminative": {"blocks": 2.5}}}, "scheduler['discriminative']['blocks'] = 2.5"),
    ({"scheduler": {"gradual_unfreeze": {"params_layer": {"head.1.weight": "top"}}}},
     "scheduler['gradual_unfreeze']['params_layer'] = {'head.1.weight': 'top'} is not accepted"),
    ({"scheduler": {"linear_decay": {"end_learning_rate": 0.5}}, "learning_rate": 0.1},
     "scheduler['linear_decay']['end_learning_rate'] = 0.5 is above learning_rate = 0.1"),
    ({"regularization": {"L2SP": -1}}, "regularization['L2SP'] = -1 is not accepted: use a number >= 0"),
    ({"optimizer_name": "sgd", "beta1": 0.8}, "CombinedStrategy got ['beta1'], which SGD (optimizer_name='sgd') "
                                              "does not take as an option"),
    ({"optimizer_name": "adamax"}, "optimizer_name = 'adamax' is not known"),
])
def test_bad_keys_and_values_are_refused_naming_them(kwargs, words):
    with pytest.raises(ValueError) as e:
        CombinedStrategy(**kwargs)
    assert words in str(e.value)


class OneVector(nn.Layer):
    """One 1-D parameter (spared from weight decay), its gradient set by the loss's sign."""

    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([3], default_initializer=nn.initializer.Constant(0.0))


def _two_steps(strategy):
    """The parameter after a step with gradient +1 and one with gradient -1."""
    net = OneVector()
    optimizer = strategy.build(net, 10).optimizer
    for sign in (1.0, -1.0):
        (net.w.sum() * sign).backward()
        optimizer.step()
        optimizer.clear_grad()
    return net.w.numpy()


def test_optimizer_options_reach_the_optimizer():
    # momentum mu: p = -lr, then v = mu * 1 - 1 and p -= lr * v
    for mu in (0.5, 0.9):
        _close(_two_steps(CombinedStrategy("momentum", 0.1, momentum=mu)), np.full(3, -0.1 - 0.1 * (mu - 1)))
    # adam (AdamW under weight decay) beta1: the second step is lr * (beta1 - 1) / (1 + beta1)
    for beta1 in (0.8, 0.9):
        strategy = CombinedStrategy("adam", 0.1, regularization={"weight_decay": 0.1}, beta1=beta1)
        np.testing.assert_allclose(_two_steps(strategy), np.full(3, -0.1 - 0.1 * (beta1 - 1) / (1 + beta1)), rtol=1e-4)
