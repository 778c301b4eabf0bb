"""A tiny BERT and its vocabulary, written with paddlenlp's save_pretrained: a real module
directory for tests, in seconds."""
import os

import paddle

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefghijklmnopqrstuvwxyz") + [
    "good", "great", "fine", "bad", "awful", "poor", "movie", "film", "the", "is", "was", "very", "not", "a"]


def write_tiny_bert(directory, seed=0, max_position=64, dropout=0.1):
    from paddlenlp.transformers import BertConfig, BertModel, BertTokenizer

    os.makedirs(directory, exist_ok=True)
    vocab = os.path.join(directory, "vocab.txt")
    with open(vocab, "w", encoding="utf-8") as f:
        f.write("\n".join(WORDS) + "\n")
    paddle.seed(seed)
    config = BertConfig(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=max_position,
                        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    BertModel(config).save_pretrained(directory)
    BertTokenizer(vocab, do_lower_case=True).save_pretrained(directory)
    return directory


def sentiment_rows(n, seed=0):
    """Short English reviews whose label follows their words: a task a tiny BERT can learn."""
    import random
    rng = random.Random(seed)
    pos, neg = ["good", "great", "fine"], ["bad", "awful", "poor"]
    rows = []
    for i in range(n):
        label = i % 2
        words = [rng.choice(pos if label else neg) for _ in range(rng.randint(1, 3))]
        rows.append((f"the {rng.choice(['movie', 'film'])} was {' '.join(words)}", str(label)))
    return rows


def write_tiny_family(directory, family):
    """A tiny ERNIE or RoBERTa saved the same way: the zoo loads any paddlenlp family."""
    from paddlenlp import transformers as T

    model_cls, config_cls, tokenizer_cls = {
        "ernie": (T.ErnieModel, T.ErnieConfig, T.ErnieTokenizer),
        "roberta": (T.RobertaModel, T.RobertaConfig, T.RobertaChineseTokenizer),
    }[family]
    os.makedirs(directory, exist_ok=True)
    vocab = os.path.join(directory, "vocab.txt")
    with open(vocab, "w", encoding="utf-8") as f:
        f.write("\n".join(WORDS) + "\n")
    paddle.seed(0)
    config = config_cls(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)
    model_cls(config).save_pretrained(directory)
    tokenizer_cls(vocab).save_pretrained(directory)
    return directory


def sentiment_dataset(root, n):
    """`n` of `sentiment_rows` written to root/train.tsv and read back as a BaseNLPDataset."""
    import hubtrain as hub

    with open(os.path.join(root, "train.tsv"), "w", encoding="utf-8") as f:
        f.writelines(f"{text}\t{['neg', 'pos'][int(label)]}\n" for text, label in sentiment_rows(n))
    return hub.dataset.BaseNLPDataset(base_path=str(root), train_file="train.tsv", label_list=["neg", "pos"])


def sentiment_task(module_dir, root, n, trainable=True, max_seq_len=32, **config):
    """A TextClassifierTask on `n` sentiment rows (written under `root`), its feature the pooled
    output of the module in `module_dir`; `config` goes to its RunConfig. Returns (task, reader)."""
    import hubtrain as hub

    module = hub.Module(directory=module_dir)
    _, outputs, _ = module.context(trainable=trainable, max_seq_len=max_seq_len)
    reader = hub.reader.ClassifyReader(dataset=sentiment_dataset(root, n), vocab_path=module.get_vocab_path(),
                                       max_seq_len=max_seq_len)
    task = hub.TextClassifierTask(data_reader=reader, feature=outputs["pooled_output"], num_classes=2,
                                  config=hub.RunConfig(use_vdl=False, **config))
    return task, reader
