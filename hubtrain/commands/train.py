"""`hubtrain train` and `hubtrain eval`: a run file built from flags, in memory, checked and run
exactly like `hubtrain run` (`--print-run-file` shows it, to keep and edit)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .common import EXIT_CODES, EXIT_OK, add_set_option, guarded

__all__ = ["add_parsers", "build_run_file", "train_command", "eval_command"]


def _option(text: str) -> tuple[str, Any]:
    from ..pipeline.runfile import load_text

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: write KEY=VALUE, e.g. few_shot=20")
    return key.strip(), load_text(raw) if raw.strip() else ""


def _common(parser: argparse.ArgumentParser, checkpoint_help: str) -> None:
    parser.add_argument("--module", required=True, metavar="NAME|DIR",
                        help="a zoo name (hubtrain zoo list) or a module directory")
    parser.add_argument("--dataset", required=True, metavar="CLASS", help="a hub.dataset class, e.g. BBCNews")
    parser.add_argument("--dataset-option", dest="dataset_options", action="append", default=[], type=_option,
                        metavar="KEY=VALUE", help="a dataset constructor option, or few_shot=N (repeatable)")
    parser.add_argument("--task", metavar="CLASS", help="the task class (default: TextClassifierTask for a text "
                                                        "module, ImageClassifierTask for a vision one)")
    parser.add_argument("--max-seq-len", type=int, metavar="N", help="tokens per example (text modules)")
    parser.add_argument("--batch-size", type=int, metavar="N", help="examples per batch (default 32)")
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
    _common(train, "where checkpoints, best_model/ and logs go (default ./ckpt); an existing one is resumed")
    train.add_argument("--epochs", type=int, metavar="N", help="passes over the training data (default 1)")
    train.add_argument("--lr", type=float, metavar="X", help="peak learning rate (default 1e-4)")
    train.add_argument("--strategy", default=None, metavar="CLASS",
                       help="AdamWeightDecayStrategy (default), DefaultFinetuneStrategy, L2SPFinetuneStrategy or "
                            "ULMFiTStrategy")
    train.add_argument("--max-steps", type=int, metavar="N", help="stop after N steps (a smoke run)")
    train.add_argument("--eval-interval", type=int, metavar="N", help="evaluate dev every N steps (default 100)")
    train.add_argument("--seed", type=int, metavar="N", help="seed of weights and batch order (default 42)")
    train.add_argument("--export", metavar="DIR", help="export the trained task there (for hubtrain predict)")
    train.set_defaults(handler=train_command)

    evaluate = sub.add_parser("eval", help="evaluate trained weights on dataset splits, from flags",
                              description="Evaluate: build the task from flags, load the weights (--init-model, "
                                          "default the best model in --checkpoint-dir) and evaluate the splits.",
                              epilog=EXIT_CODES)
    _common(evaluate, "the run's checkpoint directory (default ./ckpt); its best_model/ is loaded")
    evaluate.add_argument("--init-model", metavar="PATH", help="weights to evaluate: a checkpoint directory, "
                                                               "best_model/, step_N/ or a .pdparams file")
    evaluate.add_argument("--phases", nargs="+", choices=("train", "dev", "test"), metavar="SPLIT",
                          help="splits to evaluate (default: dev and test, those the dataset has)")
    evaluate.set_defaults(handler=eval_command)


def _module(value: str) -> dict:
    return {"directory": os.path.abspath(value)} if os.path.isdir(value) else {"name": value}


def build_run_file(args: argparse.Namespace, kind: str) -> dict:
    """The run file the flags describe (paths absolute, the current directory as workspace)."""
    task: dict = {}
    if args.task:
        task["class"] = args.task
    if args.max_seq_len is not None:
        task["max_seq_len"] = args.max_seq_len
    entry: dict = {"name": kind, "class": "train" if kind == "train" else "evaluate"}
    for key, value in (("batch_size", args.batch_size), ("device", args.device)):
        if value is not None:
            entry[key] = value
    entry["checkpoint_dir"] = os.path.abspath(args.checkpoint_dir or "ckpt")
    run: dict = {"workspace": os.getcwd(), "module": _module(args.module),
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
    else:
        entry["init_model_path"] = os.path.abspath(args.init_model) if args.init_model else entry["checkpoint_dir"]
        if args.phases:
            entry["phases"] = list(args.phases)
    run["runner"] = [entry]
    return run


def _command(args: argparse.Namespace, kind: str) -> int:
    from ..pipeline import load_run, run_pipeline

    def work() -> int:
        run = build_run_file(args, kind)
        spec = load_run(run, args.overrides, name="flags")
        if args.print_run_file:
            import yaml

            sys.stdout.write(yaml.safe_dump(run, sort_keys=False))
            return EXIT_OK
        context = run_pipeline(spec)
        for record in context["results"] if context.get("rank", 0) == 0 else []:
            shown = {k: v for k, v in record.items() if k not in ("runner", "class", "seconds")}
            print(f"{record['runner']}: {json.dumps(shown, default=str)}")
        return EXIT_OK

    return guarded(kind, work, args.debug)


def train_command(args: argparse.Namespace) -> int:
    return _command(args, "train")


def eval_command(args: argparse.Namespace) -> int:
    return _command(args, "eval")
