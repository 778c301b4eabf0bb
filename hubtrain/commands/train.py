"""`hubtrain train` and `hubtrain eval`: a run file built from flags, in memory, checked and run
exactly like `hubtrain run` (`--print-run-file` shows it, to keep and edit)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Optional

from .common import (EXIT_CODES, EXIT_OK, OptionError, add_launch_options, add_set_option, check_launch_options,
                     guarded, launch_workers)

__all__ = ["add_parsers", "add_network_options", "build_run_file", "check_weights", "run_flags", "train_command",
           "eval_command"]


def _option(text: str) -> tuple[str, Any]:
    from ..pipeline.runfile import load_text

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: write KEY=VALUE, e.g. few_shot=20")
    return key.strip(), load_text(raw) if raw.strip() else ""


def add_network_options(parser: argparse.ArgumentParser, checkpoint_help: Optional[str], required: bool = True) -> None:
    """The flags that describe the network (module, dataset, task) and how the command runs."""
    parser.add_argument("--module", required=required, metavar="NAME|DIR",
                        help="a zoo name (hubtrain zoo list) or a module directory")
    parser.add_argument("--dataset", required=required, metavar="CLASS", help="a hub.dataset class, e.g. BBCNews")
    parser.add_argument("--dataset-option", dest="dataset_options", action="append", default=[], type=_option,
                        metavar="KEY=VALUE", help="a dataset constructor option, or few_shot=N (repeatable)")
    parser.add_argument("--task", metavar="CLASS", help="the task class (default: TextClassifierTask for a text "
                                                        "module, ImageClassifierTask for a vision one)")
    parser.add_argument("--max-seq-len", type=int, metavar="N", help="tokens per example (text modules)")
    parser.add_argument("--batch-size", type=int, metavar="N", help="examples per batch (default 32)")
    if checkpoint_help is not None:
        parser.add_argument("--checkpoint-dir", metavar="DIR", help=checkpoint_help)
    parser.add_argument("--device", choices=("cpu", "gpu"), help="default: a GPU when one is visible")
    add_set_option(parser)
    parser.add_argument("--print-run-file", action="store_true", help="print the run file built from the flags "
                                                                      "(YAML) and stop")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of a failure")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="fine-tune a zoo module on a dataset, from flags",
                           description="Fine-tune: module + dataset + task + strategy from flags, then train "
                                       "(evaluating dev and test when the dataset has them). The flags make a run "
                                       "file, checked as `hubtrain run` checks one.", epilog=EXIT_CODES)
    add_network_options(train, "where checkpoints, best_model/ and logs go (default ./ckpt); an existing one is resumed")
    train.add_argument("--epochs", type=int, metavar="N", help="passes over the training data (default 1)")
    train.add_argument("--lr", type=float, metavar="X", help="peak learning rate (default 1e-4)")
    train.add_argument("--strategy", default=None, metavar="CLASS",
                       help="AdamWeightDecayStrategy (default), DefaultFinetuneStrategy, L2SPFinetuneStrategy or "
                            "ULMFiTStrategy")
    train.add_argument("--max-steps", type=int, metavar="N", help="stop after N steps (a smoke run)")
    train.add_argument("--eval-interval", type=int, metavar="N", help="evaluate dev every N steps (default 100)")
    train.add_argument("--seed", type=int, metavar="N", help="seed of weights and batch order (default 42)")
    train.add_argument("--export", metavar="DIR", help="export the trained task there (for hubtrain predict)")
    add_launch_options(train)
    train.set_defaults(handler=train_command)

    evaluate = sub.add_parser("eval", help="evaluate trained weights on dataset splits, from flags",
                              description="Evaluate: build the task from flags, load the weights (--init-model, "
                                          "default the best model in --checkpoint-dir) and evaluate the splits.",
                              epilog=EXIT_CODES)
    add_network_options(evaluate, "the run's checkpoint directory (default ./ckpt); its best_model/ is loaded")
    evaluate.add_argument("--init-model", metavar="PATH", help="weights to evaluate: a checkpoint directory, "
                                                               "best_model/, step_N/ or a .pdparams file")
    evaluate.add_argument("--phases", nargs="+", choices=("train", "dev", "test"), metavar="SPLIT",
                          help="splits to evaluate (default: dev and test, those the dataset has)")
    evaluate.set_defaults(handler=eval_command)


def _module(value: str) -> dict:
    return {"directory": os.path.abspath(value)} if os.path.isdir(value) else {"name": value}


def build_run_file(args: argparse.Namespace, kind: str) -> dict:
    """The run file the flags describe, paths absolute; its workspace is the current directory
    (given to load_run, not a key of the file, so the printed file runs as `hubtrain run` reads it)."""
    task: dict = {}
    if args.task:
        task["class"] = args.task
    if args.max_seq_len is not None:
        task["max_seq_len"] = args.max_seq_len
    entry: dict = {"name": kind, "class": {"train": "train", "eval": "evaluate"}.get(kind, kind)}
    for key, value in (("batch_size", args.batch_size), ("device", args.device)):
        if value is not None:
            entry[key] = value
    entry["checkpoint_dir"] = os.path.abspath(args.checkpoint_dir or "ckpt")
    run: dict = {"module": _module(args.module),
                 "dataset": dict([("class", args.dataset)] + list(args.dataset_options)), "task": task}
    if kind == "train":
        strategy: dict = {"class": args.strategy or "AdamWeightDecayStrategy"}
        if args.lr is not None:
            strategy["learning_rate"] = args.lr
        run["strategy"] = strategy
        for key, value in (("epochs", args.epochs), ("max_steps", args.max_steps),
                           ("eval_interval", args.eval_interval), ("seed", args.seed)):
            if value is not None:
                entry[key] = value
        if args.export:
            entry["export_dir"] = os.path.abspath(args.export)
    else:  # evaluate or export: trained weights
        entry["init_model_path"] = os.path.abspath(args.init_model) if args.init_model else entry["checkpoint_dir"]
        if getattr(args, "phases", None):
            entry["phases"] = list(args.phases)
        for key in ("export_dir", "onnx", "opset"):
            if getattr(args, key, None) is not None:
                entry[key] = os.path.abspath(getattr(args, key)) if key != "opset" else getattr(args, key)
    run["runner"] = [entry]
    return run


def check_weights(path: str, option: str) -> str:
    """The checkpoint that `path` (given as `option`) stands for; an OptionError naming the option
    when the folder is missing or holds no checkpoint."""
    from ..engine.checkpoint import MANIFEST, CheckpointManager
    from ..pipeline.warm_start import resolve_weights

    where = os.path.abspath(path)
    if not os.path.exists(where):
        raise OptionError(f"{option} {where}: no such folder; give the checkpoint directory a `hubtrain train` run "
                          f"wrote (its best_model/ or a step_N/ also do), or train first.")
    if os.path.isdir(where) and not os.path.isfile(os.path.join(where, MANIFEST)):
        manager = CheckpointManager(where)
        newest, problems = (manager.best_dir, []) if manager.best_dir else manager.latest()
        if newest is None:
            detail = f" ({problems[-1]})" if problems else ""
            raise OptionError(f"{option} {where}: the folder has no checkpoint (no best_model/ and no whole "
                              f"step_N/){detail}; give the checkpoint directory a `hubtrain train` run wrote.")
    try:
        return resolve_weights(where)
    except ValueError as e:
        raise OptionError(f"{option}: {e}") from None


def run_flags(args: argparse.Namespace, kind: str) -> int:
    """Build the run file of `kind` (train, eval, export) from the flags, check it, and run it."""
    from ..pipeline import load_run, run_pipeline

    launching = kind == "train" and check_launch_options(args)
    if kind == "eval" and not args.print_run_file:
        if args.init_model:
            check_weights(args.init_model, "--init-model")
        else:
            check_weights(args.checkpoint_dir or "ckpt", "--checkpoint-dir")
    run = build_run_file(args, kind)
    spec = load_run(run, args.overrides, name="flags", workspace=os.getcwd())
    if args.print_run_file:
        import yaml

        sys.stdout.write(yaml.safe_dump(run, sort_keys=False))
        return EXIT_OK
    if launching:  # checked here; each worker builds and checks it again, then runs it
        return launch_workers(args, spec.checkpoint_dir)
    context = run_pipeline(spec)
    for record in context["results"] if context.get("rank", 0) == 0 else []:
        shown = {k: v for k, v in record.items() if k not in ("runner", "class", "seconds")}
        print(f"{record['runner']}: {json.dumps(shown, default=str)}")
    return EXIT_OK


def train_command(args: argparse.Namespace) -> int:
    return guarded("train", lambda: run_flags(args, "train"), args.debug)


def eval_command(args: argparse.Namespace) -> int:
    return guarded("eval", lambda: run_flags(args, "eval"), args.debug)
