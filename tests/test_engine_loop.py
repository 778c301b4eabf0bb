"""The engine alone: the loop's events and their order, callback order and state keys, the step's
named points, gradient accumulation, stopping, and mid-epoch resume as a property of the loop."""
import ast
import pathlib

import numpy as np
import paddle
import pytest

from hubtrain.engine.events import EVENTS, Callback, CallbackList
from hubtrain.engine.loop import BatchSplit, CallbackPoints, Loop
from hubtrain.engine.sampler import ResumableBatchSampler
from hubtrain.engine.step import ClipGradNorm, GradientAccumulation, LossScaling, Step, StepPoint
from hubtrain.state import TrainState

ENGINE = pathlib.Path(__file__).resolve().parents[1] / "hubtrain" / "engine"


class Pairs(paddle.io.Dataset):
    def __init__(self, n=12):
        rs = np.random.RandomState(0)
        self.x = rs.rand(n, 4).astype("float32")
        self.y = rs.randint(0, 2, (n, 1)).astype("int64")

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def __len__(self):
        return len(self.x)


def loader(n=12, batch=4, shuffle=False, seed=0):
    sampler = ResumableBatchSampler(n, batch, shuffle, False, seed, 1, 0, True)
    return paddle.io.DataLoader(Pairs(n), batch_sampler=sampler, return_list=True)


class StepRunner:
    """An engine Step as the loop's batch runner."""

    def __init__(self, step):
        self.step = step

    def train_batch(self, inputs, labels, update):
        return self.step.train(inputs, labels, update)

    def eval_batch(self, inputs, labels):
        return self.step.evaluate(inputs, labels)

    def predict_batch(self, inputs):
        return self.step.predict(inputs)


def make_step(seed=0, **kw):
    paddle.seed(seed)
    network = paddle.nn.Linear(4, 2)
    optimizer = paddle.optimizer.SGD(0.1, parameters=network.parameters())
    return Step(network, paddle.nn.CrossEntropyLoss(), optimizer, **kw)


class AllEvents(Callback):
    """Defines every event, recording it with the loop's phase."""

    def __init__(self):
        self.seen = []

    def _note(self, event, loop):
        self.seen.append((event, loop.phase))

    def fit_begin(self, loop): self._note("fit_begin", loop)  # noqa: E704
    def epoch_begin(self, loop): self._note("epoch_begin", loop)  # noqa: E704
    def batch_begin(self, loop): self._note("batch_begin", loop)  # noqa: E704
    def before_backward(self, loop): self._note("before_backward", loop)  # noqa: E704
    def before_optimizer_step(self, loop): self._note("before_optimizer_step", loop)  # noqa: E704
    def batch_end(self, loop): self._note("batch_end", loop)  # noqa: E704
    def epoch_end(self, loop): self._note("epoch_end", loop)  # noqa: E704
    def eval_begin(self, loop): self._note("eval_begin", loop)  # noqa: E704
    def eval_end(self, loop): self._note("eval_end", loop)  # noqa: E704
    def fit_end(self, loop): self._note("fit_end", loop)  # noqa: E704
    def predict_begin(self, loop): self._note("predict_begin", loop)  # noqa: E704
    def predict_end(self, loop): self._note("predict_end", loop)  # noqa: E704


def test_events_fire_in_the_listed_order():
    recorder = AllEvents()
    step = make_step()
    loop = Loop(StepRunner(step), [recorder], split=BatchSplit(1))
    step.points.append(CallbackPoints(loop))
    loop.fit(loader(8), epochs=1, eval_loader=loader(4))
    loop.predict(loader(4))
    names = [name for name, _ in recorder.seen]
    assert names == ["fit_begin", "epoch_begin",
                     *["batch_begin", "before_backward", "before_optimizer_step", "batch_end"] * 2,
                     "epoch_end", "eval_begin", "batch_begin", "batch_end", "eval_end", "fit_end",
                     "predict_begin", "batch_begin", "batch_end", "predict_end"]
    first = {name: names.index(name) for name in EVENTS}
    assert sorted(EVENTS, key=first.get)[:10] == list(EVENTS[:10])


def test_callbacks_run_by_order_and_keep_their_own_state_keys():
    class Counter(Callback):
        def __init__(self, order, log):
            self.order, self.log, self.count = order, log, 0

        def batch_end(self, loop):
            self.count += 1
            self.log.append(self.order)

        def state_dict(self):
            return {"count": self.count}

        def load_state_dict(self, state):
            self.count = state["count"]

    log = []
    late, early = Counter(5, log), Counter(-5, log)
    callbacks = CallbackList([late, early])
    Loop(StepRunner(make_step()), callbacks, split=BatchSplit(1)).fit(loader(4), epochs=1)
    assert log == [-5, 5]
    states = callbacks.state_dict()
    assert len(states) == 2 and early.state_key != late.state_key
    again = [Counter(5, []), Counter(-5, [])]
    CallbackList(again).load_state_dict(states)
    assert [c.count for c in again] == [1, 1]
    first, second = Counter(0, []), Counter(1, [])
    first.state_key = second.state_key = "counter"
    with pytest.raises(ValueError, match="state_key"):
        CallbackList([first, second])


def test_should_end_pass_and_should_stop():
    class StopAt(Callback):
        def batch_end(self, loop):
            if loop.phase == "train" and loop.state.step_in_epoch == 2:
                loop.control.should_end_pass = True
                loop.control.should_stop = True

    state = Loop(StepRunner(make_step()), [StopAt()], split=BatchSplit(1)).fit(loader(12), epochs=3)
    assert (state.global_step, state.epoch, state.step_in_epoch, state.samples) == (2, 0, 2, 8)


def test_gradient_accumulation_updates_every_n_batches_and_at_epoch_end():
    state = Loop(StepRunner(make_step()), split=BatchSplit(1), accumulation=GradientAccumulation(2)).fit(
        loader(20, 4), epochs=2)
    assert (state.global_step, state.optimizer_step) == (10, 6)
    with pytest.raises(ValueError):
        GradientAccumulation(0)


def test_step_points_can_cancel_an_update():
    class Skip(Callback):
        def before_optimizer_step(self, loop):
            loop.step_context.skip_update = True

    step = make_step()
    before = step.network.weight.numpy().copy()
    loop = Loop(StepRunner(step), [Skip()], split=BatchSplit(1))
    step.points.append(CallbackPoints(loop))
    loop.fit(loader(8), epochs=1)
    np.testing.assert_array_equal(step.network.weight.numpy(), before)


def test_a_fit_resumed_mid_epoch_ends_where_an_uninterrupted_one_does():
    whole = make_step()
    Loop(StepRunner(whole), split=BatchSplit(1)).fit(loader(16, 4, shuffle=True), epochs=2)

    class Interrupt(Callback):
        def batch_end(self, loop):
            if loop.state.global_step == 6:
                loop.control.should_end_pass = loop.control.should_stop = True

    part = make_step()
    state = Loop(StepRunner(part), [Interrupt()], split=BatchSplit(1)).fit(loader(16, 4, shuffle=True), epochs=2)
    assert (state.global_step, state.epoch, state.step_in_epoch) == (6, 1, 2)
    resumed = TrainState(global_step=6, epoch=1, step_in_epoch=2)
    Loop(StepRunner(part), split=BatchSplit(1), state=resumed).fit(loader(16, 4, shuffle=True), epochs=2)
    assert resumed.global_step == 8
    np.testing.assert_array_equal(part.network.weight.numpy(), whole.network.weight.numpy())


def test_release_grads_and_zeroed_grads():
    data = Pairs(4)
    for release in (False, True):
        step = make_step(release_grads=release)
        step.train([data.x], [data.y])
        grads = [p.grad for p in step.network.parameters()]
        assert all(g is None for g in grads) if release else all(not g.numpy().any() for g in grads)


def test_no_engine_module_imports_tasks_runs_zoo_or_data():
    """The engine knows no task: of hubtrain's packages it uses only its own, the plain records
    (state, metrics, serialization, log) and the one module of Paddle's private names."""
    allowed = {"state", "metrics", "serialization", "log", "config", "compat.paddle_private"}
    for path in sorted(ENGINE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                module = node.module or ""
                assert module.split(".")[0] in allowed or module in allowed, (path.name, module)
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("hubtrain"):
                raise AssertionError((path.name, node.module))


def test_clipping_and_loss_scaling_points():
    data = Pairs(4)
    step = make_step(points=[ClipGradNorm([], 1.0)])
    step.points[0].parameters = step.network.parameters()
    seen = []

    class Norm(StepPoint):
        def before_optimizer_step(self, ctx):
            seen.append(float(paddle.linalg.norm(paddle.concat([p.grad.flatten() for p in step.network.parameters()]))))

    step.points.append(Norm())
    step.train([data.x * 100], [data.y])
    assert seen[0] <= 1.0 + 1e-5

    scaled = make_step(scaling=LossScaling(paddle.amp.GradScaler(init_loss_scaling=8.0)))
    context = scaled.train([data.x], [data.y])
    assert context.updated and context.backward_loss is not None
