"""RunFileError: a run file (or a value it brought in) that cannot be used, named by its key path."""
from __future__ import annotations

from typing import Optional

__all__ = ["RunFileError"]


class RunFileError(ValueError):
    """`<file>: <key path>: <problem> <fix>`. `key_path` is e.g. "runner[0].epochs" ("" for the
    whole file); the command line exits with status 2 on it."""

    def __init__(self, key_path: str, message: str, source: Optional[str] = None) -> None:
        self.key_path = key_path
        self.source = source
        self.problem = message
        where = ": ".join(p for p in (source, key_path) if p)
        super().__init__(f"{where}: {message}" if where else message)

    def within(self, source: str) -> "RunFileError":
        """The same error, naming the run file it came from."""
        return self if self.source else RunFileError(self.key_path, self.problem, source)
