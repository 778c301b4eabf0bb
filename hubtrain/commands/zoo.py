"""`hubtrain zoo list`: the names hub.Module(name=...) loads; `hubtrain zoo build-word`: write a
Senta-style word module (hubtrain.zoo.word) from a word vocabulary or from texts."""
from __future__ import annotations

import argparse
import os

from .common import EXIT_CODES, EXIT_OK, EXIT_USAGE, OptionError, guarded

__all__ = ["add_parsers", "zoo_list", "zoo_build_word"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("zoo", help="the module zoo: list the names hub.Module(name=...) loads",
                            description="The module zoo.", epilog=EXIT_CODES)
    actions = parser.add_subparsers(dest="zoo_command", metavar="ACTION")
    listing = actions.add_parser("list", help="names, kinds, whether each is ready here, and what it is",
                                 description="List the zoo's names: kind (text or vision), whether the module "
                                             "directory is already in the cache (or can be built offline), and a "
                                             "summary.", epilog=EXIT_CODES)
    listing.add_argument("--kind", choices=("text", "vision", "word"), help="only this kind")
    parser.set_defaults(handler=lambda args: _usage(parser))  # `zoo list` sets its own
    listing.set_defaults(handler=zoo_list)
    build = actions.add_parser(
        "build-word", help="write a Senta-style word module (BiLSTM over a word vocabulary)",
        description="Write a word module (PaddleHub 1.x's senta_bilstm shape: input words, output "
                    "sentence_feature) for hub.Module(name=...) and hub.reader.LACClassifyReader. Its words come "
                    "from --vocab, or from --texts cut into words by jieba. Its weights start at random, or its "
                    "embeddings from --embeddings: no pretrained Senta weights are available offline.",
        epilog=EXIT_CODES)
    words = build.add_mutually_exclusive_group(required=True)
    words.add_argument("--vocab", metavar="FILE", help="a vocabulary file: one word per line, or word<TAB>id")
    words.add_argument("--texts", metavar="FILE", nargs="+", help="text files, one text per line (with --column, "
                                                                   "tab-separated rows)")
    build.add_argument("--column", type=int, default=None, metavar="INDEX",
                       help="with --texts: the text is this tab-separated column (0 first)")
    build.add_argument("--header", action="store_true", help="with --texts: skip each file's first line")
    build.add_argument("--min-count", type=int, default=1, help="with --texts: keep words seen this often (1)")
    build.add_argument("--max-words", type=int, default=None, help="with --texts: keep this many, most frequent")
    build.add_argument("--embeddings", metavar="FILE", help="word vectors: word2vec text format or a .npy array "
                                                            "with one row per vocabulary word")
    build.add_argument("--dest", metavar="DIR", help="where to write it (default: $HUBTRAIN_HOME/modules/NAME)")
    build.add_argument("--name", default="senta_bilstm", help="the module's name in $HUBTRAIN_HOME/modules "
                                                              "(default senta_bilstm)")
    for flag, default, text in (("--emb-dim", None, "embedding size (128; the vectors' size with --embeddings)"),
                                ("--hid-dim", 128, "LSTM units each way (128)"),
                                ("--hid-dim2", 96, "size of sentence_feature (96)"),
                                ("--seed", 0, "seed of the random weights (0)"),
                                ("--max-seq-len", 128, "words a text is read to, recorded in the module (128)")):
        build.add_argument(flag, type=int, default=default, help=text)
    build.add_argument("--overwrite", action="store_true", help="replace a module already at the destination")
    build.set_defaults(handler=zoo_build_word)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USAGE


def _where(entry: object) -> str:
    """'cached' (directory present), 'offline' (built from an installed package on first use), 'download'
    (paddlenlp's hub, needs a network), 'random init' (architecture only), 'provide' (the user writes
    the directory: the entry's instructions say how)."""
    if getattr(entry, "directory", None) or os.path.isdir(entry.cache_dir):
        return "cached"
    if entry.build is not None:
        return "offline"
    if entry.paddlenlp_name is not None:
        return "download"
    return "random init" if entry.arch is not None else "provide"


def zoo_list(args: argparse.Namespace) -> int:
    from ..zoo import registry

    names = registry.list(args.kind)
    rows = [(name, registry.get(name)) for name in names]
    width = max((len(n) for n, _ in rows), default=4)
    print(f"{'name':<{width}}  kind    ready        summary")
    for name, entry in rows:
        print(f"{name:<{width}}  {entry.kind:<6}  {_where(entry):<11}  {entry.summary}")
    print(f"\n{len(rows)} module(s); cache: {registry.modules_home()}")
    return EXIT_OK


def _read_texts(paths: list, column: int | None, header: bool) -> list:
    texts = []
    for path in paths:
        if not os.path.isfile(path):
            raise OptionError(f"--texts: {path} not found.")
        with open(path, encoding="utf-8-sig") as f:
            for number, line in enumerate(f, start=1):
                if header and number == 1:
                    continue
                line = line.rstrip("\r\n")
                if column is not None:
                    cells = line.split("\t")
                    if column >= len(cells):
                        raise OptionError(f"--column {column}: {path}:{number} has {len(cells)} column(s).")
                    line = cells[column]
                if line.strip():
                    texts.append(line)
    if not texts:
        raise OptionError(f"--texts: no text in {', '.join(paths)}.")
    return texts


def zoo_build_word(args: argparse.Namespace) -> int:
    def work() -> int:
        from ..zoo import registry
        from ..zoo.word import build_word_module

        if args.vocab is not None and (args.column is not None or args.header or args.max_words is not None):
            raise OptionError("--column, --header and --max-words go with --texts, not --vocab.")
        if args.vocab is not None and not os.path.isfile(args.vocab):
            raise OptionError(f"--vocab: {args.vocab} not found.")
        if args.texts is not None:
            from ..data.words import vocab_from_texts

            vocab = vocab_from_texts(_read_texts(args.texts, args.column, args.header), min_count=args.min_count,
                                     max_words=args.max_words)
        else:
            vocab = args.vocab
        dest = args.dest or os.path.join(registry.modules_home(), args.name)
        if os.path.exists(dest) and not args.overwrite:
            raise OptionError(f"{dest} exists; pass --overwrite to replace it, or --dest elsewhere.")
        written = build_word_module(dest, vocab, args.embeddings, emb_dim=args.emb_dim, hid_dim=args.hid_dim,
                                    hid_dim2=args.hid_dim2, max_seq_len=args.max_seq_len, seed=args.seed,
                                    overwrite=args.overwrite)
        named = os.path.dirname(written) == os.path.abspath(registry.modules_home())
        print(f"wrote the word module {written}; load it with hub.Module(directory={written!r})"
              + (f" or hub.Module(name={os.path.basename(written)!r})" if named else ""))
        return EXIT_OK

    return guarded("zoo build-word", work, usage_errors=(ValueError, FileNotFoundError))
