"""`hubtrain zoo list`: the names hub.Module(name=...) loads."""
from __future__ import annotations

import argparse
import os

from .common import EXIT_CODES, EXIT_OK, EXIT_USAGE

__all__ = ["add_parsers", "zoo_list"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("zoo", help="the module zoo: list the names hub.Module(name=...) loads",
                            description="The module zoo.", epilog=EXIT_CODES)
    actions = parser.add_subparsers(dest="zoo_command", metavar="ACTION")
    listing = actions.add_parser("list", help="names, kinds, whether each is ready here, and what it is",
                                 description="List the zoo's names: kind (text or vision), whether the module "
                                             "directory is already in the cache (or can be built offline), and a "
                                             "summary.", epilog=EXIT_CODES)
    listing.add_argument("--kind", choices=("text", "vision"), help="only this kind")
    parser.set_defaults(handler=lambda args: _usage(parser))  # `zoo list` sets its own
    listing.set_defaults(handler=zoo_list)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USAGE


def _where(entry: object) -> str:
    """'cached' (directory present), 'offline' (built from an installed package on first use), 'download'
    (paddlenlp's hub, needs a network), 'random init' (architecture only)."""
    if getattr(entry, "directory", None) or os.path.isdir(entry.cache_dir):
        return "cached"
    if entry.build is not None:
        return "offline"
    if entry.paddlenlp_name is not None:
        return "download"
    return "random init"


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
