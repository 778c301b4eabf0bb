"""Word-level modules: a Senta-style bidirectional LSTM over a word vocabulary (PaddleHub 1.x's
`senta_bilstm`: input `words`, output `sentence_feature`), and the builder that writes one.

The network follows Senta's BiLSTM: word embeddings, an LSTM each way, the two directions' final
states joined and a tanh fc to `hid_dim2` units: that is `sentence_feature`. Each direction's final
state is taken at the text's own end (`seq_len`), so padding never enters it. Embeddings start as
N(0, 1) draws, so that a network trained from scratch passes its words' differences on from the
first step (Senta's 0.02 suits its pretrained weights, not a start from nothing); Senta's 30-fold
learning rate on embeddings is not kept: hubtrain's strategies set every parameter's rate.

A module directory holds `hubtrain_module.json` ({"type": "word", ...}), `vocab.txt` (one word
per line; hubtrain.data.words) and `model.safetensors`. No pretrained Senta weights exist offline:
`build_word_module` starts the network at random, or its embeddings from given word vectors.
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence, Union

import numpy as np
import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..engine.report import log

__all__ = ["WordBiLSTM", "WORD_INPUTS", "word_input_specs", "build_word_module", "read_word_vectors",
           "network_from_info", "WORD_DEFAULTS"]

WORD_INPUTS = ("words", "seq_len")
# Senta's sizes: 128-d embeddings, 128 LSTM units each way, a 96-unit sentence feature.
WORD_DEFAULTS = {"emb_dim": 128, "hid_dim": 128, "hid_dim2": 96}


def word_input_specs() -> list[InputSpec]:
    return [InputSpec([None, None], "int64", "words"), InputSpec([None], "int64", "seq_len")]


class WordBiLSTM(nn.Layer):
    """words [N, T] (and seq_len [N]) -> (sequence_output [N, T, 2 * hid_dim], sentence_feature
    [N, hid_dim2]). Without seq_len, a text ends before its first padding id (all of it when the
    vocabulary has none)."""

    def __init__(self, vocab_size: int, emb_dim: int = 128, hid_dim: int = 128, hid_dim2: int = 96,
                 padding_idx: Optional[int] = None) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("emb_dim", emb_dim), ("hid_dim", hid_dim),
                            ("hid_dim2", hid_dim2)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"WordBiLSTM: {name}={value!r}: use a whole number >= 1.")
        self.vocab_size, self.emb_dim, self.hid_dim, self.hid_dim2 = int(vocab_size), int(emb_dim), int(hid_dim), \
            int(hid_dim2)
        self.padding_idx = padding_idx
        self.embedding = nn.Embedding(self.vocab_size, self.emb_dim, padding_idx=padding_idx,
                                      weight_attr=paddle.ParamAttr(initializer=nn.initializer.Normal(std=1.0)))
        self.lstm = nn.LSTM(self.emb_dim, self.hid_dim, direction="bidirect")
        self.fc = nn.Linear(2 * self.hid_dim, self.hid_dim2)

    def set_trainable(self, trainable: bool) -> None:
        for param in self.parameters():
            param.stop_gradient = not trainable

    def forward(self, words: paddle.Tensor, seq_len: Optional[paddle.Tensor] = None
                ) -> tuple[paddle.Tensor, paddle.Tensor]:
        if seq_len is None:
            seq_len = self._lengths(words)
        elif seq_len.ndim == 2:  # PaddleHub 1.x fed [N, 1]
            seq_len = seq_len.squeeze(-1)
        sequence_output, (last_hidden, _) = self.lstm(self.embedding(words), sequence_length=seq_len)
        ends = paddle.concat([last_hidden[-2], last_hidden[-1]], axis=-1)  # forward's end, backward's end
        return sequence_output, paddle.tanh(self.fc(ends))

    def load_weights(self, state: dict, source: str) -> None:
        """Every parameter from `state`, with its shape; a missing or misshapen one is an error."""
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise ValueError(f"{source}: no weights for {len(missing)} of the word module's parameters (first: "
                             f"{missing[:3]}); write the module again with build_word_module.")
        wrong = [f"{k}: file {list(np.shape(state[k]))} vs module {list(own[k].shape)}"
                 for k in own if list(np.shape(state[k])) != list(own[k].shape)]
        if wrong:
            raise ValueError(f"{source}: shape mismatch for {len(wrong)} tensors, first: {wrong[0]} (does "
                             f"hubtrain_module.json describe these weights?).")
        self.set_state_dict({k: np.asarray(state[k]) for k in own})

    def _lengths(self, words: paddle.Tensor) -> paddle.Tensor:
        if self.padding_idx is None:
            return paddle.ones_like(words, dtype="int64").sum(axis=1)
        return (words != self.padding_idx).astype("int64").sum(axis=1).clip(min=1)


# ---------------------------------------------------------------------------- building a module
def read_word_vectors(source: Union[str, np.ndarray], words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(vectors [len(words), D] float32, found [len(words)] bool) from word2vec's text format
    (`word v1 ... vD` per line, an optional `count D` first line) or a .npy array / array with one
    row per word of `words` (all found). Rows of words the file lacks are zeros, found False."""
    if isinstance(source, np.ndarray) or str(source).endswith(".npy"):
        array = source if isinstance(source, np.ndarray) else np.load(os.fspath(source), allow_pickle=False)
        if array.ndim != 2 or array.shape[0] != len(words):
            raise ValueError(f"embeddings: expected one row per vocabulary word, [{len(words)}, dim]; got an array of "
                             f"shape {list(array.shape)}.")
        return np.asarray(array, dtype=np.float32), np.ones(len(words), dtype=bool)
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"embeddings file not found: {path}; give word2vec's text format (word v1 ... vD per "
                                f"line) or a .npy array with one row per vocabulary word.")
    index = {w: i for i, w in enumerate(words)}
    vectors: Optional[np.ndarray] = None
    found = np.zeros(len(words), dtype=bool)
    with open(path, encoding="utf-8", errors="strict") as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec's header: count and dimension
            if len(parts) < 2:
                continue
            try:
                values = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise ValueError(f"{path}:{number}: expected a word then its numbers, separated by spaces.") from None
            if vectors is None:
                vectors = np.zeros((len(words), values.size), dtype=np.float32)
            if values.size != vectors.shape[1]:
                raise ValueError(f"{path}:{number}: {values.size} numbers, but the first vector has "
                                 f"{vectors.shape[1]}; every vector has the same size.")
            at = index.get(parts[0])
            if at is not None:
                vectors[at], found[at] = values, True
    if vectors is None:
        raise ValueError(f"{path}: no word vectors in the file; expected lines `word v1 ... vD`.")
    return vectors, found


def build_word_module(dest: str, vocab: Union[str, Sequence[str]], embeddings: Union[None, str, np.ndarray] = None,
                      *, emb_dim: Optional[int] = None, hid_dim: int = WORD_DEFAULTS["hid_dim"],
                      hid_dim2: int = WORD_DEFAULTS["hid_dim2"], max_seq_len: int = 128, seed: int = 0, overwrite: bool = False) -> str:
    """Write a Senta-style word module to `dest` and return it: the words of `vocab` (a vocabulary
    file or a list; `<pad>` and `<unk>` are added when missing), weights at random (seeded), or
    the embeddings from `embeddings` (word2vec text or a .npy array; words it lacks start at
    random with the same spread). Written to a temporary sibling and renamed into place."""
    from ..data.words import PAD_TOKEN, UNK_TOKEN, read_word_vocab, write_word_vocab
    from .module import MODULE_FILE, WEIGHTS_FILE, write_weights
    from .offline import write_atomically

    if isinstance(vocab, (str, os.PathLike)):
        given = read_word_vocab(os.fspath(vocab))
        by_id = sorted(given.ids.items(), key=lambda item: item[1])
        if [i for _, i in by_id] != list(range(len(by_id))):
            raise ValueError(f"{vocab}: the ids are not 0..{len(by_id) - 1} without gaps; a module's vocabulary "
                             f"gives each row of its embedding one word.")
        words = [w for w, _ in by_id]
    else:
        words = list(vocab)
    if len(set(words)) != len(words):
        raise ValueError("the vocabulary lists a word twice; give each word once.")
    words += [t for t in (PAD_TOKEN, UNK_TOKEN) if t not in words and not (t == PAD_TOKEN and "[PAD]" in words)
              and not (t == UNK_TOKEN and "[UNK]" in words)]
    vectors = found = None
    if embeddings is not None:
        vectors, found = read_word_vectors(embeddings, words)
        if emb_dim is not None and emb_dim != vectors.shape[1]:
            raise ValueError(f"emb_dim={emb_dim}, but the embeddings have {vectors.shape[1]} numbers per word; leave "
                             f"emb_dim out to take the embeddings' size.")
        emb_dim = int(vectors.shape[1])
    emb_dim = emb_dim or WORD_DEFAULTS["emb_dim"]
    pad = words.index(PAD_TOKEN) if PAD_TOKEN in words else words.index("[PAD]")

    def write(tmp: str) -> None:
        paddle.seed(seed)
        network = WordBiLSTM(len(words), emb_dim, hid_dim, hid_dim2, padding_idx=pad)
        state = {k: v.numpy() for k, v in network.state_dict().items()}
        if vectors is not None:
            table = state["embedding.weight"]
            spread = float(vectors[found].std()) if found.any() else 0.02
            rng = np.random.default_rng(seed)
            table[:] = rng.normal(0.0, spread, size=table.shape).astype(np.float32)
            table[found] = vectors[found]
            table[pad] = 0.0
            log("INFO", f"word module {os.path.basename(dest)}: {int(found.sum())} of {len(words)} words have a "
                        f"given vector; the others start at random")
        write_word_vocab(words, os.path.join(tmp, "vocab.txt"))
        write_weights(state, os.path.join(tmp, WEIGHTS_FILE))
        info = {"type": "word", "arch": "bilstm", "vocab": "vocab.txt", "weights": WEIGHTS_FILE,
                "vocab_size": len(words), "emb_dim": emb_dim, "hid_dim": hid_dim, "hid_dim2": hid_dim2,
                "padding_idx": pad, "max_seq_len": max_seq_len, "segmenter": "jieba",
                "source": ("embeddings from given word vectors, the rest initialised at random"
                           if vectors is not None else "initialised at random") + "; no pretrained Senta weights"}
        with open(os.path.join(tmp, MODULE_FILE), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=2, ensure_ascii=False)
            f.write("\n")

    return write_atomically(dest, write, overwrite)


def network_from_info(info: dict, source: str) -> WordBiLSTM:
    """The WordBiLSTM a module description names (before its weights are loaded)."""
    if info.get("arch", "bilstm") != "bilstm":
        raise ValueError(f"{source}: a word module's \"arch\" is \"bilstm\", found {info.get('arch')!r}.")
    missing = [k for k in ("vocab_size",) if k not in info]
    if missing:
        raise ValueError(f"{source}: a word module needs {', '.join(missing)}; write it with build_word_module.")
    sizes: dict[str, Any] = {k: info.get(k, v) for k, v in WORD_DEFAULTS.items()}
    return WordBiLSTM(int(info["vocab_size"]), int(sizes["emb_dim"]), int(sizes["hid_dim"]), int(sizes["hid_dim2"]),
                      padding_idx=info.get("padding_idx"))
