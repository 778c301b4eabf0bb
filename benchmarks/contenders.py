"""The training calls the loop benchmarks time. Each builds its network with the reference initial
weights and its optimizer (untimed), then times one training call over `steps` batches:

  hand-written        DataLoader + plain BatchSampler, forward, cross_entropy, backward, step,
                      clear_grad; loss and accuracy summed on the device, read every 10 steps
  paddle.Model.fit    prepare(Adam, CrossEntropyLoss, Accuracy()).fit(verbose=0)
  hubtrain task.fit   ImageClassifierTask (default accuracy metric), prepare(Adam),
                      fit(verbose=0, log_freq=10), no checkpoint directory
  hubtrain finetune   the same task built from a RunConfig (DefaultFinetuneStrategy: Adam, fixed
                      rate, no regulariser), task.finetune(); it writes the one checkpoint a
                      finetune run ends with, into a temporary directory removed afterwards
  PaddleNLP Trainer   paddlenlp.trainer.Trainer with the same Adam, CrossEntropyLoss as criterion,
                      no saving, no evaluation, no logging, no reporting
  hubtrain to_static  task.fit with RunConfig(to_static=True) on one task kept across runs

Every runner returns {"seconds": ..., "steps": ...} and may add more keys.
"""
from __future__ import annotations

import gc
import importlib
import shutil
import tempfile
import time
from typing import Any, Optional

import paddle
import paddle.nn as nn
from paddle.io import BatchSampler, DataLoader, Dataset
from paddle.static import InputSpec

import hubtrain as hub

from common import LOG_EVERY, LR, SEED, Runner, Workload, adam, fresh_network, load_initial, sync

HAND, HAPI, HUB = "hand-written loop", "paddle.Model.fit", "hubtrain task.fit"
HUB_FINETUNE, TRAINER, HUB_STATIC = "hubtrain task.finetune", "PaddleNLP Trainer", "hubtrain task.fit to_static"


def run_hand(w: Workload, steps: int, device: str) -> dict:
    net = fresh_network(w)
    opt = adam(net)
    data = w.dataset(steps)
    gc.collect()
    sync(device)
    t0 = time.perf_counter()
    loader = DataLoader(data, batch_sampler=BatchSampler(data, batch_size=w.batch_size, shuffle=True),
                        return_list=True)
    net.train()
    loss_sum, correct, seen, done = None, None, 0, 0
    last = {}
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
    sync(device)
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "steps": done, **last}


class _CountSteps(paddle.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, step, logs=None):
        self.steps += 1


def run_hapi(w: Workload, steps: int, device: str, count: bool = False) -> dict:
    """`count` adds a step-counting callback (used in the warm-up only, to check the step count)."""
    net = fresh_network(w)
    model = paddle.Model(net, inputs=[w.input_spec], labels=[InputSpec([None, 1], "int64", "label")])
    model.prepare(adam(net), nn.CrossEntropyLoss(), paddle.metric.Accuracy())
    data = w.dataset(steps)
    counter = _CountSteps() if count else None
    gc.collect()
    sync(device)
    t0 = time.perf_counter()
    model.fit(data, batch_size=w.batch_size, epochs=1, shuffle=True, verbose=0,
              callbacks=[counter] if counter else None)
    sync(device)
    elapsed = time.perf_counter() - t0
    out = {"seconds": elapsed}
    if counter:
        out["steps"] = counter.steps
    return out


def hub_task(w: Workload, device: str, **config: Any) -> hub.ImageClassifierTask:
    """An ImageClassifierTask on a fresh backbone holding the reference initial weights."""
    paddle.seed(SEED)
    run_config = hub.RunConfig(use_cuda=(device == "gpu"), log_interval=LOG_EVERY, **config)
    task = hub.ImageClassifierTask(feature=w.make_backbone(), num_classes=w.num_classes, config=run_config,
                                   feature_dim=w.feature_dim)
    load_initial(task.network, w.initial)
    return task


def run_hub(w: Workload, steps: int, device: str) -> dict:
    task = hub_task(w, device)
    return {"seconds": _timed_fit(task, w, steps, device), "steps": task.train_state.global_step}


def _timed_fit(task: Any, w: Workload, steps: int, device: str) -> float:
    """Seconds of one `task.fit` over `steps` batches, from fresh Adam state."""
    task.prepare(adam(task.network))
    data = w.dataset(steps)
    gc.collect()
    sync(device)
    t0 = time.perf_counter()
    task.fit(data, batch_size=w.batch_size, epochs=1, shuffle=True, log_freq=LOG_EVERY, verbose=0)
    sync(device)
    return time.perf_counter() - t0


class _LastStep(paddle.callbacks.Callback):
    """When the last training batch ended: what follows it in a run is the run's ending."""

    def __init__(self) -> None:
        super().__init__()
        self.at: Optional[float] = None

    def on_train_batch_end(self, step, logs=None):
        self.at = time.perf_counter()


def run_hub_finetune(w: Workload, steps: int, device: str) -> dict:
    """Reports `ending_s` too: the time from the last step to the return of finetune (mostly the
    final checkpoint)."""
    workdir = tempfile.mkdtemp(prefix="hubtrain-bench-")
    try:
        strategy = hub.DefaultFinetuneStrategy(learning_rate=LR, optimizer_name="adam", regularization_coeff=0.0)
        task = hub_task(w, device, num_epoch=1, batch_size=w.batch_size, strategy=strategy, seed=SEED,
                        checkpoint_dir=f"{workdir}/ckpt", use_vdl=False)
        data = w.dataset(steps)
        last = _LastStep()
        gc.collect()
        sync(device)
        t0 = time.perf_counter()
        task.finetune(data, callbacks=[last])
        sync(device)
        end = time.perf_counter()
        return {"seconds": end - t0, "steps": task.train_state.global_step,
                "ending_s": end - last.at if last.at is not None else None}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


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


def run_trainer(w: Workload, steps: int, device: str) -> dict:
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
        trainer = Trainer(model=net, criterion=nn.CrossEntropyLoss(), args=args,
                          train_dataset=_DictDataset(w.dataset(steps)), optimizers=(adam(net), None))
        gc.collect()
        sync(device)
        t0 = time.perf_counter()
        trainer.train()
        sync(device)
        elapsed = time.perf_counter() - t0
        return {"seconds": elapsed, "steps": trainer.state.global_step}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def static_runner() -> Runner:
    """task.fit under RunConfig(to_static=True). The task is built once, at the first call (the
    warm-up), and kept: each later run puts the reference initial weights back and prepares a
    fresh Adam, so the conversion of the forward, paid once per task, stays out of the timed
    runs. The first call's time, conversion included, is reported as the warm-up."""
    kept: dict[str, hub.ImageClassifierTask] = {}

    def run(w: Workload, steps: int, device: str) -> dict:
        task = kept.get(w.name)
        if task is None:
            task = kept[w.name] = hub_task(w, device, to_static=True)
        else:
            load_initial(task.network, w.initial)
        elapsed = _timed_fit(task, w, steps, device)
        if not isinstance(task.network.forward, paddle.jit.api.StaticFunction):
            raise RuntimeError("to_static fell back to dygraph: the run would not measure to_static")
        return {"seconds": elapsed, "steps": task.train_state.global_step}

    return run
