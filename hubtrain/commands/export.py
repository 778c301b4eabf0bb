"""`hubtrain export SOURCE`: a checkpoint folder into an export directory (the network rebuilt
from a run file or from the flags `hubtrain eval` takes), and an export directory into ONNX."""
from __future__ import annotations

import argparse
import os

from .common import EXIT_CODES, EXIT_OK, OptionError, guarded
from .train import add_network_options, check_weights, run_flags

__all__ = ["add_parsers", "export_command"]

_OPSET = 13  # hubtrain.export.onnx.DEFAULT_OPSET, written here so `--help` does not import paddle


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export", help="export a checkpoint for inference (hubtrain predict), and/or convert an export to ONNX",
        description="SOURCE is a checkpoint folder a hubtrain run wrote (its checkpoint_dir, best_model/ or a "
                    "step_N/): the network is rebuilt from --run-file, or from --module and --dataset as for "
                    "`hubtrain eval`, its weights loaded, and written to --output (an export directory), plus "
                    "ONNX with --onnx. SOURCE may also be an export directory (task.export): then --onnx converts "
                    "it.", epilog=EXIT_CODES)
    parser.add_argument("source", metavar="SOURCE", help="a checkpoint folder, or an export directory")
    parser.add_argument("--output", dest="export_dir", metavar="DIR",
                        help="the export directory to write (default: CHECKPOINT_DIR/export)")
    parser.add_argument("--onnx", metavar="OUT.onnx", help="also write the model as ONNX (needs paddle2onnx)")
    parser.add_argument("--opset", type=int, default=None, help=f"ONNX opset (default {_OPSET}; raised by "
                                                                f"paddle2onnx when needed)")
    parser.add_argument("--run-file", metavar="FILE.yaml",
                        help="the run file that trained SOURCE: its module, dataset and task rebuild the network")
    parser.add_argument("--allow-outside-workspace", action="store_true",
                        help="with --run-file: accept SOURCE, --output and *_class_path files outside the run "
                             "file's workspace")
    add_network_options(parser, None, required=False)
    parser.set_defaults(handler=export_command)


def _run_dir(weights: str) -> str:
    """The checkpoint_dir a checkpoint belongs to (the folder itself, or the parent of best_model/, step_N/)."""
    name = os.path.basename(weights.rstrip(os.sep))
    if name == "best_model" or (name.startswith("step_") and name[5:].isdigit()) or weights.endswith(".pdparams"):
        return os.path.dirname(weights)
    return weights


def _convert(args: argparse.Namespace) -> int:
    from ..export.onnx import DEFAULT_OPSET, to_onnx

    if not args.onnx:
        raise OptionError(f"{args.source} is an export directory already; give --onnx OUT.onnx to convert it to "
                          f"ONNX (to export a checkpoint, give its checkpoint folder as SOURCE).")
    given = [flag for flag, value in (("--run-file", args.run_file), ("--module", args.module),
                                      ("--dataset", args.dataset), ("--output", args.export_dir)) if value]
    if given:
        raise OptionError(f"{', '.join(given)}: not used when SOURCE ({args.source}) is an export directory; drop "
                          f"them, or give a checkpoint folder as SOURCE.")
    print(f"wrote {to_onnx(args.source, args.onnx, opset=DEFAULT_OPSET if args.opset is None else args.opset)}")
    return EXIT_OK


def _from_run_file(args: argparse.Namespace, weights: str, run_dir: str) -> int:
    from ..pipeline import load_run, run_pipeline

    entry: dict = {"name": "export", "class": "export", "checkpoint_dir": run_dir, "init_model_path": weights,
                   "export_dir": os.path.abspath(args.export_dir or os.path.join(run_dir, "export"))}
    if args.onnx:
        entry["onnx"] = os.path.abspath(args.onnx)
    if args.opset is not None:
        entry["opset"] = args.opset
    spec = load_run(args.run_file, [("runner", [entry]), *args.overrides], args.allow_outside_workspace)
    if args.print_run_file:
        import yaml

        print(yaml.safe_dump(spec.data, sort_keys=False), end="")
        return EXIT_OK
    context = run_pipeline(spec)
    print(f"exported {weights} to {context['outputs'].get('export', entry['export_dir'])}")
    return EXIT_OK


def export_command(args: argparse.Namespace) -> int:
    from ..export.metadata import is_export_dir

    def work() -> int:
        source = os.path.abspath(args.source)
        if os.path.isdir(source) and is_export_dir(source):
            return _convert(args)
        if not os.path.exists(source):
            raise OptionError(f"SOURCE {source}: no such folder; give a checkpoint folder a hubtrain run wrote "
                              f"(its checkpoint_dir, best_model/ or step_N/), or an export directory.")
        weights = check_weights(source, "SOURCE")
        run_dir = _run_dir(source)
        if args.run_file:
            if args.module or args.dataset:
                raise OptionError("--run-file and --module/--dataset both describe the network; give one of them.")
            return _from_run_file(args, weights, run_dir)
        if not (args.module and args.dataset):
            raise OptionError(f"SOURCE {source} holds weights only; say which network they belong to: "
                              f"--run-file FILE.yaml (the run file that trained them), or --module and --dataset "
                              f"(with --task and --max-seq-len as in training).")
        args.init_model, args.checkpoint_dir = weights, run_dir
        args.export_dir = os.path.abspath(args.export_dir or os.path.join(run_dir, "export"))
        return run_flags(args, "export")

    return guarded("export", work, args.debug)
