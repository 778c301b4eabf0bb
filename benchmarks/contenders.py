"""The training calls the loop benchmarks time. Each builds its network with the reference initial
weights and its optimizer (untimed), then times one training call over `steps` batches:

  hand-written        DataLoader + plain BatchSampler, forward, cross_entropy, backward, step,
                      clear_grad; loss and accuracy summed on the device, read every 10 steps
  paddle.Model.fit    prepare(Adam, CrossEntropyLoss, Accuracy()).fit(verbose=0)
  hubtrain task.fit   ImageClassifierTask (default accuracy metric), prepare(Adam),
                      fit(verbose=0, log_freq=10), no checkpoint directory; "loss only" is the
                      same with prepare(Adam, metrics=[]), the work the Trainer does
  hubtrain finetune   the same task built from a RunConfig (DefaultFinetuneStrategy: Adam, fixed
                      rate, no regulariser), task.finetune(); it writes the one checkpoint a
                      finetune run ends with, into a temporary directory removed afterwards
  PaddleNLP Trainer   paddlenlp.trainer.Trainer with the same Adam, CrossEntropyLoss as criterion,
                      no saving, no evaluation, no logging, no reporting

Every runner is `runner(workload, steps, device, clock=None)` and returns {"seconds": ...,
"steps": ..., "step_s": ...}, maybe with more keys. The end of every step is told to `clock` (a
`Clock`, or a `lockstep.TurnClock` when contenders take turns) by the loop itself (hand-written) or
by a callback (a hapi Callback, a Trainer TrainerCallback); `step_s` is what the clock makes of it.
"""
from __future__ import annotations

import gc
import importlib
import shutil
import statistics
import tempfile
import time
from typing import Any, Callable, Optional

import paddle
import paddle.nn as nn
from paddle.io import BatchSampler, DataLoader, Dataset
from paddle.static import InputSpec

import hubtrain as hub

from common import LOG_EVERY, LR, SEED, Workload, adam, fresh_network, load_initial, sync

HAND, HAPI, HUB = "hand-written loop", "paddle.Model.fit", "hubtrain task.fit"
HUB_LOSS_ONLY = "hubtrain task.fit, loss only"
HUB_FINETUNE, TRAINER = "hubtrain task.finetune", "PaddleNLP Trainer"


class Clock:
    """Notes when each training step ended; `step_s` is the median time from the end of one step
    to the end of the next: what one turn of the loop costs (data, step, bookkeeping), free of
    what a run does once and of short stalls."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def tick(self) -> None:
        self.marks.append(time.perf_counter())

    @property
    def steps(self) -> int:
        return len(self.marks)

    def step_s(self) -> Optional[float]:
        return median_interval(self.marks)

    def since_last_step(self) -> Optional[float]:
        """Seconds since the last step ended (what a run does after its last step)."""
        return time.perf_counter() - self.marks[-1] if self.marks else None


def run_hand(w: Workload, steps: int, device: str, clock: Optional[Clock] = None) -> dict:
    clock = clock or Clock()
    net = fresh_network(w)
    opt = adam(net)
    data = w.dataset(steps)
    result: dict = {}
    elapsed = timed(lambda: result.update(hand_fit(net, opt, data, w.batch_size, clock=clock)), device)
    return {"seconds": elapsed, "step_s": clock.step_s(), **result}


def hand_fit(net: nn.Layer, opt: paddle.optimizer.Optimizer, data: Dataset, batch_size: int, epochs: int = 1,
             clock: Optional[Clock] = None, epoch_marks: Optional[list] = None) -> dict:
    """The hand-written loop over `epochs` shuffled passes of `data`: {"steps": ..., "loss": ...,
    "acc": ...} (the loss and accuracy of the last 10 steps read). `epoch_marks` gets the
    `time.perf_counter()` of each epoch's end."""
    clock = clock or Clock()
    loader = DataLoader(data, batch_sampler=BatchSampler(data, batch_size=batch_size, shuffle=True),
                        return_list=True)
    net.train()
    loss_sum, correct, seen, done = None, None, 0, 0
    last = {}
    for _ in range(epochs):
        for x, y in loader:
            logits = net(x)
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()
            opt.step()
            opt.clear_grad()
            hit = (logits.argmax(axis=-1, keepdim=True) == y).astype("int64").sum()
            batch_loss = loss.detach() * y.shape[0]
            loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
            correct = hit if correct is None else correct + hit
            seen += y.shape[0]
            done += 1
            if done % LOG_EVERY == 0:
                last = {"loss": float(loss_sum) / seen, "acc": float(correct) / seen}
                loss_sum, correct, seen = None, None, 0
            clock.tick()
        if epoch_marks is not None:
            epoch_marks.append(time.perf_counter())
    return {"steps": done, **last}


def timed(call: Callable[[], Any], device: str) -> float:
    """Wall seconds of `call()`, after a garbage collection and with the device idle either side."""
    gc.collect()
    sync(device)
    t0 = time.perf_counter()
    call()
    sync(device)
    return time.perf_counter() - t0


def median_interval(marks: list) -> Optional[float]:
    return statistics.median(b - a for a, b in zip(marks, marks[1:])) if len(marks) > 1 else None


class StepClock(paddle.callbacks.Callback):
    """Tells a clock when each hapi training step ended."""

    def __init__(self, clock: Optional[Clock] = None) -> None:
        super().__init__()
        self.clock = clock or Clock()

    def on_train_batch_end(self, step, logs=None):
        self.clock.tick()


def hapi_model(w: Workload, model_class: type = paddle.Model) -> paddle.Model:
    """`model_class(net, inputs, labels)` on a fresh network, prepared with Adam, cross-entropy and
    accuracy: paddle.Model, or any class that takes its arguments (hub.Model)."""
    net = fresh_network(w)
    model = model_class(net, inputs=[w.input_spec], labels=[InputSpec([None, 1], "int64", "label")])
    model.prepare(adam(net), nn.CrossEntropyLoss(), paddle.metric.Accuracy())
    return model


def run_hapi(w: Workload, steps: int, device: str, clock: Optional[Clock] = None) -> dict:
    model = hapi_model(w)
    data = w.dataset(steps)
    hook = StepClock(clock)
    elapsed = timed(lambda: model.fit(data, batch_size=w.batch_size, epochs=1, shuffle=True, verbose=0,
                                      callbacks=[hook]), device)
    return {"seconds": elapsed, "steps": hook.clock.steps, "step_s": hook.clock.step_s()}


def hub_task(w: Workload, device: str, **config: Any) -> hub.ImageClassifierTask:
    """An ImageClassifierTask on a fresh backbone holding the reference initial weights."""
    paddle.seed(SEED)
    run_config = hub.RunConfig(use_cuda=(device == "gpu"), log_interval=LOG_EVERY, **config)
    task = hub.ImageClassifierTask(feature=w.make_backbone(), num_classes=w.num_classes, config=run_config,
                                   feature_dim=w.feature_dim)
    load_initial(task.network, w.initial)
    return task


def run_hub(w: Workload, steps: int, device: str, clock: Optional[Clock] = None,
            metrics: Optional[list] = None) -> dict:
    """`metrics=[]` trains with the loss alone, as the Trainer does."""
    task = hub_task(w, device)
    return timed_fit(task, w, steps, device, clock, metrics)


def run_hub_loss_only(w: Workload, steps: int, device: str, clock: Optional[Clock] = None) -> dict:
    return run_hub(w, steps, device, clock, metrics=[])


def timed_fit(task: Any, w: Workload, steps: int, device: str, clock: Optional[Clock] = None,
              metrics: Optional[list] = None) -> dict:
    """One `task.fit` over `steps` batches, from fresh Adam state."""
    task.prepare(adam(task.network), metrics=metrics)
    data = w.dataset(steps)
    hook = StepClock(clock)
    elapsed = timed(lambda: task.fit(data, batch_size=w.batch_size, epochs=1, shuffle=True, log_freq=LOG_EVERY,
                                     verbose=0, callbacks=[hook]), device)
    return {"seconds": elapsed, "steps": task.train_state.global_step, "step_s": hook.clock.step_s()}


def run_hub_finetune(w: Workload, steps: int, device: str, clock: Optional[Clock] = None) -> dict:
    """Reports `ending_s` too: the time from the last step to the return of finetune (mostly the
    final checkpoint)."""
    workdir = tempfile.mkdtemp(prefix="hubtrain-bench-")
    try:
        task = finetune_task(w, device, f"{workdir}/ckpt")
        data = w.dataset(steps)
        hook = StepClock(clock)
        elapsed = timed(lambda: task.finetune(data, callbacks=[hook]), device)
        return {"seconds": elapsed, "steps": task.train_state.global_step, "step_s": hook.clock.step_s(),
                "ending_s": hook.clock.since_last_step()}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def finetune_task(w: Workload, device: str, checkpoint_dir: str, epochs: int = 1) -> hub.ImageClassifierTask:
    """The task `finetune` trains: a RunConfig with Adam at a fixed rate and no regulariser
    (DefaultFinetuneStrategy), the workload's batch, `epochs` epochs, no VisualDL."""
    strategy = hub.DefaultFinetuneStrategy(learning_rate=LR, optimizer_name="adam", regularization_coeff=0.0)
    return hub_task(w, device, num_epoch=epochs, batch_size=w.batch_size, strategy=strategy, seed=SEED,
                    checkpoint_dir=checkpoint_dir, use_vdl=False)


class _DictDataset(Dataset):
    """The workload's samples as the Trainer takes them: {"x": features, "labels": label}."""

    def __init__(self, data: Dataset) -> None:
        super().__init__()
        self.data = data

    def __getitem__(self, i: int) -> dict:
        x, y = self.data[i]
        return {"x": x, "labels": y}

    def __len__(self) -> int:
        return len(self.data)


def quiet_trainer() -> float:
    """Import paddlenlp's Trainer with its logger at WARNING; returns the import time in seconds."""
    t0 = time.perf_counter()
    from paddlenlp.utils.log import logger

    logger.set_level("WARNING")
    importlib.import_module("paddlenlp.trainer")
    return time.perf_counter() - t0


def _trainer_clock(clock: Clock) -> Any:
    """A Trainer callback that tells a clock when each step ended (StepClock for the Trainer)."""
    from paddlenlp.trainer import TrainerCallback

    class TrainerClock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            clock.tick()

    return TrainerClock()


def run_trainer(w: Workload, steps: int, device: str, clock: Optional[Clock] = None) -> dict:
    from paddlenlp.trainer import Trainer, TrainingArguments

    workdir = tempfile.mkdtemp(prefix="trainer-bench-")
    try:
        net = fresh_network(w)
        args = TrainingArguments(
            output_dir=workdir, device=device, seed=SEED, do_train=True,
            per_device_train_batch_size=w.batch_size, num_train_epochs=1, learning_rate=LR,
            lr_scheduler_type="constant", weight_decay=0.0, dataloader_num_workers=0,
            logging_strategy="no", save_strategy="no", evaluation_strategy="no",
            disable_tqdm=True, report_to="none", skip_memory_metrics=True)
        clock = clock or Clock()
        trainer = Trainer(model=net, criterion=nn.CrossEntropyLoss(), args=args,
                          train_dataset=_DictDataset(w.dataset(steps)), optimizers=(adam(net), None),
                          callbacks=[_trainer_clock(clock)])
        elapsed = timed(trainer.train, device)
        return {"seconds": elapsed, "steps": trainer.state.global_step, "step_s": clock.step_s()}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
