"""Deterministic, stratified train/dev/test splits for sets that ship as one pool, and files that
ship inside installed packages."""
from __future__ import annotations

import importlib.util
import os
import random
from typing import Any, Sequence

from .base import DatasetMissingError

__all__ = ["check_fractions", "stratified_split", "stratified_sample", "package_file"]


def check_fractions(split: Sequence[float], owner: str) -> tuple:
    fractions = tuple(float(f) for f in split)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6 or fractions[0] == 0:
        raise ValueError(f"{owner}: split={tuple(split)} should be three fractions (train, dev, test) that sum to "
                         f"1, train above 0, e.g. (0.8, 0.1, 0.1).")
    return fractions


def stratified_split(groups: dict, fractions: Sequence[float], seed: int) -> tuple:
    """Items grouped by class -> (train, dev, test): each class shuffled with `seed` and cut by
    the fractions (rounded; test takes the rest), then each split shuffled so classes mix. The
    same groups, fractions and seed give the same splits on every machine."""
    rng = random.Random(seed)
    parts: tuple = ([], [], [])
    for key in sorted(groups, key=str):
        items = list(groups[key])
        rng.shuffle(items)
        n_train = round(len(items) * fractions[0])
        n_dev = round(len(items) * fractions[1])
        if fractions[2] == 0:
            n_dev = len(items) - n_train
        parts[0].extend(items[:n_train])
        parts[1].extend(items[n_train:n_train + n_dev])
        parts[2].extend(items[n_train + n_dev:])
    for part in parts:
        rng.shuffle(part)
    return parts


def stratified_sample(groups: dict, total: int, seed: int) -> dict:
    """At most `total` items, each class keeping its share (at least one item per class)."""
    size = sum(len(items) for items in groups.values())
    if total >= size:
        return groups
    rng = random.Random(seed)
    kept = {}
    for key in sorted(groups, key=str):
        items = list(groups[key])
        rng.shuffle(items)
        kept[key] = items[:max(1, round(len(items) * total / size))]
    return kept


def package_file(package: str, *parts: str, install: str) -> str:
    """A file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    roots: Any = spec.submodule_search_locations if spec is not None else None
    if not roots:
        raise DatasetMissingError(f"the package '{package}' is not installed; install it with `{install}`.")
    path = os.path.join(list(roots)[0], *parts)
    if not os.path.exists(path):
        raise DatasetMissingError(f"{path} is missing from the installed '{package}'; reinstall it with "
                                  f"`{install}`.")
    return path
