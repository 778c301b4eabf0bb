"""hub.Model against paddle.Model, side by side on the same network and data: return values,
batch methods, files, callbacks' hooks and logs, static mode, gradients, no seeding."""
import os
import random
import subprocess
import sys

import numpy as np
import paddle
import pytest
from paddle.static import InputSpec

import hubtrain as hub
from launch import SCRIPTS, launch_two

DIM, CLASSES = 8, 3


class Points(paddle.io.Dataset):
    def __init__(self, n=24, seed=0):
        rs = np.random.RandomState(seed)
        self.x = rs.rand(n, DIM).astype("float32")
        self.y = (self.x.sum(1, keepdims=True) * 10 % CLASSES).astype("int64")

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def __len__(self):
        return len(self.x)


class TwoHeads(paddle.nn.Layer):
    """A network with two outputs: class logits and a regression value."""

    def __init__(self):
        super().__init__()
        self.body = paddle.nn.Linear(DIM, 16)
        self.cls = paddle.nn.Linear(16, CLASSES)
        self.reg = paddle.nn.Linear(16, 1)

    def forward(self, x):
        h = paddle.nn.functional.relu(self.body(x))
        return self.cls(h), self.reg(h)


def net(seed=3):
    paddle.seed(seed)
    return paddle.nn.Sequential(paddle.nn.Linear(DIM, 16), paddle.nn.ReLU(), paddle.nn.Linear(16, CLASSES))


INPUTS = [InputSpec([None, DIM], "float32", "x")]
LABELS = [InputSpec([None, 1], "int64", "label")]


def prepared(cls, network=None, inputs=INPUTS, labels=LABELS, metrics=True, lr=0.05, optimizer=None):
    network = network or net()
    model = cls(network, inputs, labels)
    optimizer = optimizer or paddle.optimizer.Adam(lr, parameters=network.parameters())
    model.prepare(optimizer, paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy() if metrics else None)
    return model


def weights(model):
    return {k: v.numpy() for k, v in model.network.state_dict().items()}


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key], err_msg=key)


class Recorder(paddle.callbacks.Callback):
    """Every hook paddle's loops call, with its step or epoch and the logs it was given."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _log(self, name, *args):
        args = list(args)
        logs = args.pop() if args and (isinstance(args[-1], dict) or args[-1] is None) else None
        if name.endswith("_batch_begin"):
            logs = None  # paddle.Model's logs there hold the last batch of any model in the process
        kept = None if logs is None else {k: (np.round(np.asarray(v, dtype="float64"), 5).tolist()
                                              if k in ("loss", "acc") else v) for k, v in logs.items()}
        self.calls.append((name, *args, kept))

    def __getattribute__(self, name):
        if name.startswith("on_"):
            return lambda *args: self._log(name, *args)
        return super().__getattribute__(name)


def test_is_a_paddle_model_and_exported_lazily():
    assert issubclass(hub.Model, paddle.Model)
    assert isinstance(hub.Model(net(), INPUTS), paddle.Model)
    code = "import sys, hubtrain; assert 'paddle' not in sys.modules; assert 'Model' in hubtrain.__all__"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fit_evaluate_predict_return_what_paddle_model_returns():
    results = []
    for cls in (paddle.Model, hub.Model):
        model = prepared(cls)
        fitted = model.fit(Points(), Points(12, 1), batch_size=4, epochs=2, shuffle=False, verbose=0)
        evaluated = model.evaluate(Points(12, 1), batch_size=5, verbose=0)
        predicted = model.predict(Points(10, 2), batch_size=4, verbose=0)
        stacked = model.predict(Points(10, 2), batch_size=4, stack_outputs=True, verbose=0)
        results.append((model, fitted, evaluated, predicted, stacked))
    (pm, pf, pe, pp, ps), (hm, hf, he, hp, hs) = results
    assert pf is None and hf is None
    assert pe.keys() == he.keys() == {"loss", "acc"} and pe == he
    assert len(pp) == len(hp) == 1 and len(pp[0]) == len(hp[0]) == 3  # one output, three batches
    for a, b in zip(pp[0], hp[0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ps[0], hs[0])
    assert hs[0].shape == (10, CLASSES)
    assert_same_weights(pm, hm)


def test_batch_methods_return_what_paddle_model_returns():
    data = Points(6)
    x, y = data.x, data.y
    out = {}
    for cls in (paddle.Model, hub.Model):
        with_metrics, plain = prepared(cls), prepared(cls, metrics=False)
        no_loss = cls(net(), INPUTS, LABELS)
        no_loss.prepare(metrics=paddle.metric.Accuracy())
        out[cls] = (with_metrics.train_batch([x], [y]), with_metrics.eval_batch([x], [y]),
                    plain.train_batch([x], [y]), plain.eval_batch([x], [y]), no_loss.eval_batch([x], [y]),
                    plain.predict_batch([x]), plain.predict_batch(x))
    for a, b in zip(out[paddle.Model], out[hub.Model]):
        assert type(a) is type(b)
        np.testing.assert_equal(a, b)


def test_bare_inputspec_and_tuples_of_specs():
    spec_x, spec_y = InputSpec([None, DIM], "float32", "x"), InputSpec([None, 1], "int64", "label")
    for inputs, labels in ((spec_x, spec_y), (tuple(INPUTS), tuple(LABELS)), (None, None)):
        network = net()
        model = hub.Model(network, inputs, labels)
        model.prepare(paddle.optimizer.SGD(0.1, parameters=network.parameters()), paddle.nn.CrossEntropyLoss())
        model.fit(Points(8), batch_size=4, verbose=0)
        assert len(model.predict(Points(4), batch_size=2, verbose=0)[0]) == 2


def test_batch_size_pair_sets_train_and_eval_batches():
    seen = {}
    for cls in (paddle.Model, hub.Model):
        recorder = Recorder()
        prepared(cls).fit(Points(24), Points(10, 1), batch_size=[8, 5], verbose=0, callbacks=[recorder])
        seen[cls] = recorder.calls
        sizes = [c[-1]["batch_size"] for c in recorder.calls if c[0] in ("on_train_batch_end", "on_eval_batch_end")]
        assert sizes == [8, 8, 8, 5, 5]
    assert seen[paddle.Model] == seen[hub.Model]


def test_several_outputs():
    def loss(logits, value, label):
        return paddle.nn.functional.cross_entropy(logits, label) + value.mean() * 0

    runs = []
    for cls in (paddle.Model, hub.Model):
        paddle.seed(5)
        network = TwoHeads()
        model = cls(network, INPUTS, LABELS)
        model.prepare(paddle.optimizer.Adam(0.01, parameters=network.parameters()), loss)
        model.fit(Points(), batch_size=6, shuffle=False, verbose=0)
        runs.append((model, model.predict(Points(8), batch_size=4, stack_outputs=True, verbose=0)))
    (pm, pp), (hm, hp) = runs
    assert len(hp) == 2 and hp[0].shape == (8, CLASSES) and hp[1].shape == (8, 1)
    for a, b in zip(pp, hp):
        np.testing.assert_array_equal(a, b)
    assert_same_weights(pm, hm)


def test_callbacks_see_the_same_hooks_and_logs():
    recorded = {}
    for cls in (paddle.Model, hub.Model):
        recorder = Recorder()
        model = prepared(cls)
        model.fit(Points(12), Points(6, 1), batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=recorder,
                  accumulate_grad_batches=2)
        model.evaluate(Points(6, 1), batch_size=4, verbose=0, callbacks=recorder)
        model.predict(Points(5), batch_size=2, verbose=0, callbacks=recorder)
        recorded[cls] = recorder.calls
    paddle_calls, hub_calls = recorded[paddle.Model], recorded[hub.Model]
    count = lambda calls, name: sum(1 for c in calls if c[0] == name)  # noqa: E731
    for hook in ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end", "on_epoch_end",
                 "on_eval_begin", "on_eval_batch_end", "on_eval_end", "on_train_end", "on_predict_begin",
                 "on_predict_batch_end", "on_predict_end"):
        assert count(hub_calls, hook) == count(paddle_calls, hook) > 0, hook
    assert hub_calls == paddle_calls


def test_num_iters_stops_fit_and_evaluate_as_paddle_model():
    recorded = {}
    for cls in (paddle.Model, hub.Model):
        recorder = Recorder()
        model = prepared(cls)
        model.fit(Points(12), Points(8, 1), batch_size=4, epochs=3, verbose=0, callbacks=recorder, num_iters=5)
        model.evaluate(Points(8, 1), batch_size=2, verbose=0, callbacks=recorder, num_iters=2)
        recorded[cls] = (recorder.calls, model.stop_training)
    assert recorded[paddle.Model] == recorded[hub.Model]


def test_early_stopping_stops_at_the_same_epoch():
    stopped = {}
    for cls in (paddle.Model, hub.Model):
        recorder = Recorder()
        stop = paddle.callbacks.EarlyStopping(monitor="loss", mode="min", patience=0, save_best_model=False,
                                              min_delta=10.0)
        model = prepared(cls)
        model.fit(Points(), Points(8, 1), batch_size=8, epochs=6, verbose=0, callbacks=[stop, recorder])
        epochs = [c[1] for c in recorder.calls if c[0] == "on_epoch_end"]
        stopped[cls] = (epochs, model.stop_training)
    assert stopped[hub.Model] == stopped[paddle.Model]
    assert len(stopped[hub.Model][0]) < 6 and stopped[hub.Model][1]


@pytest.mark.parametrize("by_epoch", [False, True])
def test_lr_scheduler_steps_as_with_paddle_model(by_epoch):
    last = {}
    for cls in (paddle.Model, hub.Model):
        network = net()
        schedule = paddle.optimizer.lr.StepDecay(0.1, step_size=2, gamma=0.5)
        model = prepared(cls, network, optimizer=paddle.optimizer.SGD(schedule, parameters=network.parameters()))
        callbacks = [paddle.callbacks.LRScheduler(by_step=not by_epoch, by_epoch=by_epoch)]
        model.fit(Points(16), batch_size=4, epochs=3, verbose=0, callbacks=callbacks)
        last[cls] = (schedule.last_epoch, schedule.last_lr)
    assert last[hub.Model] == last[paddle.Model]
    assert last[hub.Model][0] == (3 if by_epoch else 12)


def test_gradients_after_steps_are_what_paddle_model_leaves():
    data = Points(4)
    grads = {}
    for cls in (paddle.Model, hub.Model):
        model = prepared(cls, metrics=False)
        kept = []
        for update in (False, False, True):
            model.train_batch([data.x], [data.y], update=update)
            kept.append([p.grad.numpy() for p in model.network.parameters()])
        grads[cls] = kept
    for a, b in zip(grads[paddle.Model], grads[hub.Model]):
        for ga, gb in zip(a, b):
            np.testing.assert_array_equal(ga, gb)
    first, second, after = grads[hub.Model]
    for g1, g2, g3 in zip(first, second, after):
        np.testing.assert_allclose(g1 * 2, g2, rtol=1e-5)
        assert not g3.any()

    model = prepared(hub.Model, metrics=False)
    model.release_grads = True
    model.train_batch([data.x], [data.y])
    assert all(p.grad is None for p in model.network.parameters())


def test_save_and_load_either_way(tmp_path):
    data = Points(8)
    for saver, loader in ((paddle.Model, hub.Model), (hub.Model, paddle.Model), (hub.Model, hub.Model)):
        network = net()
        optimizer = paddle.optimizer.Adam(0.05, parameters=network.parameters())
        source = prepared(saver, network, optimizer=optimizer)
        source.fit(data, batch_size=4, verbose=0)
        path = str(tmp_path / f"{saver.__module__}-{loader.__module__}" / "ckpt")
        source.save(path)
        saved = weights(source)
        assert set(paddle.load(path + ".pdparams")) == set(source.network.state_dict())  # no wrapper prefix
        # optimizer state is keyed by the optimizer's own accumulator names: the same optimizer takes it back
        other = prepared(loader, network, optimizer=optimizer)
        other.train_batch([data.x], [data.y])  # moves the weights and the optimizer's moments
        other.load(path)
        for key, value in weights(other).items():
            np.testing.assert_array_equal(value, saved[key], err_msg=key)
        restored, on_file = optimizer.state_dict(), paddle.load(path + ".pdopt")
        for key, value in on_file.items():
            if isinstance(value, paddle.Tensor):
                np.testing.assert_array_equal(restored[key].numpy(), value.numpy(), err_msg=key)


def test_load_skips_mismatches_only_when_asked(tmp_path):
    model = prepared(hub.Model)
    model.save(str(tmp_path / "m"))
    other = hub.Model(paddle.nn.Sequential(paddle.nn.Linear(DIM, 16), paddle.nn.ReLU(), paddle.nn.Linear(16, 5)),
                      INPUTS)
    other.prepare()
    with pytest.raises(ValueError, match="shape"):
        other.load(str(tmp_path / "m"))
    with pytest.warns(UserWarning, match="Skip loading"):
        other.load(str(tmp_path / "m.pdparams"), skip_mismatch=True)
    np.testing.assert_array_equal(other.network[0].weight.numpy(), model.network[0].weight.numpy())


def test_save_for_inference_after_a_batch_without_inputs(tmp_path):
    network = net()
    model = hub.Model(network)
    model.prepare()
    model.predict_batch([Points(2).x])
    model.save(str(tmp_path / "infer"), training=False)
    assert os.path.exists(str(tmp_path / "infer.pdiparams"))


def test_static_mode_is_paddle_models_own():
    data = Points(6)
    losses = {}
    paddle.enable_static()
    try:
        for cls in (paddle.Model, hub.Model):
            startup, main = paddle.static.Program(), paddle.static.Program()
            with paddle.static.program_guard(main, startup):
                paddle.seed(7)
                model = prepared(cls, metrics=False, optimizer=None)
                losses[cls] = model.train_batch([data.x], [data.y])
        with pytest.raises(TypeError):
            hub.Model(net())
    finally:
        paddle.disable_static()
    np.testing.assert_array_equal(losses[paddle.Model], losses[hub.Model])


def test_fit_neither_seeds_nor_resumes(tmp_path):
    model = prepared(hub.Model)
    np.random.seed(123)
    random.seed(123)
    paddle.seed(123)
    numpy_state, python_state = np.random.get_state()[1].copy(), random.getstate()
    model.fit(Points(8), batch_size=4, epochs=1, save_dir=str(tmp_path), verbose=0)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert random.getstate() == python_state
    after_fit = paddle.rand([4]).numpy()
    paddle.seed(123)
    np.testing.assert_array_equal(after_fit, paddle.rand([4]).numpy())  # paddle's generator untouched
    recorder = Recorder()
    model.fit(Points(8), batch_size=4, epochs=2, save_dir=str(tmp_path), verbose=0, callbacks=recorder)
    assert [c[1] for c in recorder.calls if c[0] == "on_epoch_begin"] == [0, 1]


def test_two_processes_train_and_evaluate_as_paddle_model(tmp_path):
    done, logs = launch_two([os.path.join(SCRIPTS, "hub_model_ranks.py"), tmp_path], tmp_path / "log", tmp_path)
    assert done.returncode == 0, "".join(logs.values())[-3000:]
    for rank in (0, 1):
        saved = np.load(tmp_path / f"rank{rank}.npz")
        for name in saved.files:
            if name.startswith("paddle_"):
                np.testing.assert_array_equal(saved[name], saved["hub_" + name[len("paddle_"):]], err_msg=name)


def test_engine_callbacks_join_the_passes():
    from hubtrain.engine.events import Callback

    class Count(Callback):
        def __init__(self):
            self.batches, self.samples = 0, 0

        def batch_end(self, loop):
            self.batches += 1

        def fit_end(self, loop):
            self.samples = loop.state.samples

    count = Count()

    class Counted(hub.Model):
        def engine_callbacks(self):
            return [count]

    model = prepared(Counted)
    model.fit(Points(12), Points(4, 1), batch_size=4, verbose=0)
    assert (count.batches, count.samples) == (4, 12)  # 3 training batches and 1 of evaluation


def test_the_progress_bar_shows_what_paddle_model_shows_with_metrics_counted_when_read(capsys):
    """With only paddle's progress bar reading a training batch's logs, hub.Model counts the
    metrics when the bar prints (every log_freq batches and at the epoch's end); the printed loss
    and accuracy are paddle.Model's, digit for digit."""
    import re

    printed = {}
    for cls in (paddle.Model, hub.Model):
        model = prepared(cls)
        model.fit(Points(40), batch_size=4, epochs=2, shuffle=False, log_freq=3, verbose=2)
        out = capsys.readouterr().out
        printed[cls] = re.findall(r"step +(\d+/\d+) .*?loss: ([\d.]+) - acc: ([\d.]+)", out)
    assert len(printed[hub.Model]) == 2 * (3 + 1)  # steps 3, 6, 9 and the epoch's end, twice
    assert printed[hub.Model] == printed[paddle.Model]
