"""A HUBTRAIN_HOME laid out as PaddleHub 1.x's scripts expect it: modules under the names the
demos load and datasets in PaddleHub's own file formats, from small real data (learnable
English reviews over the tiny BERT's words, scikit-learn's digits as images)."""
import csv
import json
import os
import random
import shutil

from tiny_text import sentiment_rows, write_tiny_bert

TEXT_MODULES = ("ernie_tiny", "ernie", "ernie_v2_eng_base", "bert_chinese_L-12_H-768_A-12",
                "bert_uncased_L-12_H-768_A-12")
POSITIVE, NEGATIVE = ("good", "great", "fine"), ("bad", "awful", "poor")
SPLITS = {"train": 96, "dev": 32, "test": 32}


def write_home(root, tiny_bert_dir):
    """Fill `root` (the HUBTRAIN_HOME) with every module and dataset the 1.x scripts name."""
    modules, datasets = os.path.join(root, "modules"), os.path.join(root, "datasets")
    for name in TEXT_MODULES:
        shutil.copytree(tiny_bert_dir, os.path.join(modules, name), dirs_exist_ok=True)
    write_vision_module(os.path.join(modules, "resnet_v2_50_imagenet"))
    for seed, (split, n) in enumerate(SPLITS.items()):
        rows = sentiment_rows(n, seed=seed)
        _sentiment(os.path.join(datasets, "chnsenticorp"), split, rows)
        _answer_selection(os.path.join(datasets, "nlpcc-dbqa"), split, rows, seed)
        _toxic(os.path.join(datasets, "toxic"), split, rows)
        _ner(os.path.join(datasets, "msra_ner"), split, rows)
        _similarity(os.path.join(datasets, "glue_data", "STS-B"), split, n, seed)
        if split != "test":
            _squad(os.path.join(datasets, "squad_data"), split, n, seed)
    _flowers(os.path.join(datasets, "flower_photos"))
    return root


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _sentiment(folder, split, rows):
    _write(os.path.join(folder, f"{split}.tsv"), "label\ttext_a\n" + "".join(f"{l}\t{t}\n" for t, l in rows))


def _answer_selection(folder, split, rows, seed):
    """question "good" or "bad" with a review as the candidate answer: 1 when the review's polarity is the question's."""
    rng = random.Random(seed)
    lines = ["qid\ttext_a\ttext_b\tlabel\n"]
    for i, (text, label) in enumerate(rows):
        asked = rng.choice(["good", "bad"])
        lines.append(f"{i}\t{asked}\t{text}\t{int((asked == 'good') == (label == '1'))}\n")
    _write(os.path.join(folder, f"{split}.tsv"), "".join(lines))


_TOXIC = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]


def _toxic(folder, split, rows):
    """Six flags from the words: toxic = negative review, insult = "awful", obscene = "poor", the rest 0."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{split}.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "comment_text"] + _TOXIC)
        for i, (text, label) in enumerate(rows):
            writer.writerow([f"{split}{i}", text, int(label == "0"), 0, int("poor" in text), 0,
                             int("awful" in text), 0])


def _ner(folder, split, rows):
    """Characters of the review without spaces; the polarity word's characters tagged as a PER entity."""
    lines = ["text_a\tlabel\n"]
    for text, _ in rows:
        chars, tags = [], []
        for word in text.split():
            entity = word in POSITIVE + NEGATIVE
            for k, ch in enumerate(word):
                chars.append(ch)
                tags.append(("B-PER" if k == 0 else "I-PER") if entity else "O")
        lines.append("\x02".join(chars) + "\t" + "\x02".join(tags) + "\n")
    _write(os.path.join(folder, f"{split}.tsv"), "".join(lines))


def _similarity(folder, split, n, seed):
    """GLUE STS-B's ten columns (test.tsv: its nine, no score); the score is 2.5 for each of the two
    sentences whose word is a positive one (0, 2.5 or 5)."""
    rng = random.Random(seed)
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
    lines = [header + ("\n" if split == "test" else "\tscore\n")]
    for i in range(n):
        a, b = rng.choice(POSITIVE + NEGATIVE), rng.choice(POSITIVE + NEGATIVE)
        score = 2.5 * ((a in POSITIVE) + (b in POSITIVE))
        row = f"{i}\tmain\tx\t2020\t{i}\tx\tx\tthe movie was {a}\tthe film was {b}"
        lines.append(row + ("\n" if split == "test" else f"\t{score:.1f}\n"))
    _write(os.path.join(folder, f"{split}.tsv"), "".join(lines))


def _squad(folder, split, n, seed):
    """SQuAD v1.1 JSON: which word the movie was, answered from a two-sentence context."""
    rng = random.Random(seed)
    paragraphs = []
    for i in range(n):
        movie, film = rng.choice(POSITIVE), rng.choice(NEGATIVE)
        context = f"the film was {film} the movie was {movie}"
        start = context.index(f"the movie was {movie}") + len("the movie was ")
        paragraphs.append({"context": context, "qas": [{
            "id": f"{split}-{i}", "question": "the movie was",
            "answers": [{"text": movie, "answer_start": start}]}]})
    _write(os.path.join(folder, f"{split}-v1.1.json"),
           json.dumps({"version": "1.1", "data": [{"title": "reviews", "paragraphs": paragraphs}]}))


def _flowers(folder):
    """PaddleHub's flower_photos layout with digits 0-4 (scikit-learn) as the five classes, 32x32 JPEGs."""
    import cv2
    import numpy as np
    from sklearn.datasets import load_digits

    data = load_digits()
    labels = ["roses", "tulips", "daisy", "sunflowers", "dandelion"]
    _write(os.path.join(folder, "label_list.txt"), "\n".join(labels) + "\n")
    keep = [i for i in range(len(data.target)) if data.target[i] < 5][:300]
    parts = {"train_list.txt": keep[:200], "validate_list.txt": keep[200:250], "test_list.txt": keep[250:]}
    for list_file, indices in parts.items():
        lines = []
        for i in indices:
            name = f"{labels[data.target[i]]}/{i}.jpg"
            image = cv2.resize((data.images[i] * 16).clip(0, 255).astype(np.uint8), (32, 32),
                               interpolation=cv2.INTER_NEAREST)
            os.makedirs(os.path.join(folder, labels[data.target[i]]), exist_ok=True)
            cv2.imwrite(os.path.join(folder, name), cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
            lines.append(f"{name} {data.target[i]}\n")
        _write(os.path.join(folder, list_file), "".join(lines))


def write_vision_module(directory):
    """A MobileNetV3-small module (random weights: no ResNet weights install offline) that expects 32x32 images."""
    import hubtrain as hub

    module = hub.Module(name="mobilenet_v3_small", pretrained=False)
    module.save(directory)
    info_path = os.path.join(directory, "hubtrain_module.json")
    with open(info_path, encoding="utf-8") as f:
        info = json.load(f)
    info["image_size"] = [32, 32]
    with open(info_path, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    return directory


if __name__ == "__main__":
    import sys
    import tempfile

    bert = write_tiny_bert(tempfile.mkdtemp())
    print(write_home(sys.argv[1], bert))
