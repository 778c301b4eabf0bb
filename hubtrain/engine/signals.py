"""SIGTERM and SIGINT during training: finish the step, write a checkpoint, stop saying how to
resume. A second SIGINT stops at once.

The handlers only record the signal. What to do about it is decided at the next step boundary
through the run's control flags (`should_save`, `should_stop`), so a step is never cut in half
and the checkpoint is written by the same dispatcher as any interval checkpoint. The handlers
exist only while a training call runs, in the main thread (the only one Python delivers signals
to), and the previous ones are put back afterwards.

Under several processes the ranks agree at every step boundary (a max all-reduce of the flag,
only when the world size is above 1: 0.4 ms a step with 2 gloo processes on CPU), so all of
them stop after the same step even when the signal reaches them at different moments.
`paddle.distributed.launch` turns a SIGINT or SIGTERM it receives into SIGTERMs to every worker
(up to three, 0.2 s apart: the reason a repeated SIGTERM changes nothing here) and kills the
workers 30 s later; a checkpoint must be written within that time.
"""
from __future__ import annotations

import os
import signal
import threading
from typing import TYPE_CHECKING, Any, Optional

import paddle

from . import distributed
from .checkpoint import CheckpointManager
from .events import Callback
from .report import log

if TYPE_CHECKING:
    from .loop import Loop

__all__ = ["TrainingInterrupted", "SignalStop", "STOP_SIGNALS"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """A training call stopped on SIGINT or SIGTERM.

    A KeyboardInterrupt, because that is what a Ctrl-C raises anyway: `except Exception` in user
    code does not swallow it, notebooks show it as an interrupted cell, existing
    `except KeyboardInterrupt` clean-ups apply, and a script that does not catch it ends with
    status 1 and the message on its last line. (SystemExit would end a notebook's kernel run
    oddly and print nothing of where the run stopped.)
    """

    def __init__(self, message: str, signal_name: str, step: int, checkpoint: Optional[str]) -> None:
        super().__init__(message)
        self.signal_name = signal_name
        self.step = step
        self.checkpoint = checkpoint

    def __str__(self) -> str:
        return str(self.args[0])


def _notice(text: str) -> None:
    """Write from inside a signal handler: a raw write cannot re-enter a buffered stream."""
    try:
        os.write(2, (text + "\n").encode())
    except OSError:
        pass


class SignalStop(Callback):
    """Turns a SIGINT or SIGTERM into a checkpoint and a stop at the next step boundary.

    It comes first among a run's callbacks: its flags are read by the dispatcher that runs last,
    and its `epoch_end` (the first event after the loop leaves the stopped epoch) raises
    `TrainingInterrupted` before any other callback treats the cut epoch as finished.
    `checkpoint_dir`: where the run writes its checkpoints (None: it writes none).
    """

    order = -100

    def __init__(self, checkpoint_dir: Optional[str]) -> None:
        self.checkpoint_dir = checkpoint_dir
        self.received: Optional[int] = None
        self.parallel = distributed.world_size() > 1
        self.state: Optional[Any] = None  # the loop's TrainState, once the fit begins
        self._stopping = False
        self._raised = False
        self._previous: dict[int, Any] = {}

    # -- handlers --------------------------------------------------------------------------
    def install(self) -> None:
        """Catch the stop signals from now on (main thread only; elsewhere nothing changes)."""
        if threading.current_thread() is not threading.main_thread() or self._previous:
            return
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._handle)

    def restore(self) -> None:
        """Put the handlers back as they were before `install`."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            if signum == signal.SIGINT:
                self._raised = True
                raise TrainingInterrupted(
                    f"Training stopped at once by a second SIGINT, in the middle of step {self._step() + 1}, "
                    f"which is lost. {self._resume_hint(self._newest_checkpoint())}", name, self._step(), None)
            return  # launchers repeat SIGTERM; the stop is under way
        self.received = signum
        _notice(f"hubtrain: {name} received: finishing the current step, then writing a checkpoint and "
                f"stopping. Press Ctrl-C again to stop at once without one.")

    # -- the decision, at step boundaries --------------------------------------------------
    def fit_begin(self, loop: "Loop") -> None:
        self.state = loop.state

    def batch_end(self, loop: "Loop") -> None:
        if loop.phase != "train":
            return
        requested = self.received is not None
        if self.parallel:
            flag = paddle.to_tensor([1 if requested else 0], dtype="int32")
            paddle.distributed.all_reduce(flag, op=paddle.distributed.ReduceOp.MAX)
            requested = bool(flag.numpy()[0])
        if requested:
            control = loop.control
            control.should_save |= self.checkpoint_dir is not None
            control.should_stop = True
            self._stopping = True

    def epoch_end(self, loop: "Loop") -> None:
        if self._stopping:
            distributed.barrier()  # rank 0 has finished writing before any rank exits
            raise self._interrupted()

    def raise_if_received(self) -> None:
        """A signal that came after the last step boundary (say, during the final evaluation):
        the run is complete, but the caller asked to stop, so its script does not go on."""
        if self.received is not None and not self._raised:
            raise self._interrupted()

    # -- the message -----------------------------------------------------------------------
    def _step(self) -> int:
        return self.state.global_step if self.state is not None else 0

    def _newest_checkpoint(self) -> Optional[str]:
        if self.checkpoint_dir is None:
            return None
        steps = CheckpointManager(self.checkpoint_dir).steps()
        return steps[-1] if steps else None

    def _resume_hint(self, checkpoint: Optional[str], just_written: bool = False) -> str:
        if just_written:
            return "To resume, run the same command again: it continues from there."
        if checkpoint is not None:
            return f"To resume, run the same command again: it continues from the newest checkpoint, {checkpoint}."
        if self.checkpoint_dir is not None:
            return "No checkpoint exists yet: the same command again starts from the beginning."
        return ("This run has no checkpoint directory, so it cannot resume: set RunConfig(checkpoint_dir=...) "
                "or fit(save_dir=...) to make runs resumable.")

    def _interrupted(self) -> TrainingInterrupted:
        self._raised = True
        step = self._step()
        total = self.state.total_steps if self.state is not None else 0
        name = signal.Signals(self.received).name if self.received is not None else "a signal to another rank"
        written = None if self.checkpoint_dir is None else \
            os.path.join(os.path.abspath(self.checkpoint_dir), f"step_{step}")
        saved = written is not None and os.path.isdir(written)
        checkpoint = written if saved else self._newest_checkpoint()
        message = (f"Training stopped by {name} after step {step} of {total}"
                   + (f"; checkpoint written to {checkpoint}. " if saved else ". ")
                   + self._resume_hint(checkpoint, saved))
        log("WARNING", message, level=30)
        return TrainingInterrupted(message, name, step, checkpoint)
