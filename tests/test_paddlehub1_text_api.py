"""PaddleHub 1.7's predefined text networks (TextClassifierTask(network=...)) and PaddleHub 1.8's
tokenizers, tokenized datasets and Task(dataset=...), on a real tiny BERT and real words."""
import os
import pickle
import runpy

import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.serialization.restricted_pickle import UnsafeFileError
from tiny_text import sentiment_rows

NETWORKS = ("bilstm", "bow", "cnn", "dpcnn", "gru", "lstm")
FEED = ("input_ids", "position_ids", "segment_ids", "input_mask")
TEXTS = ["the movie was good", "bad", "the film was very very awful not good a fine film"]


def _write_splits(root, n_train=64, n_dev=32):
    """Reviews whose label follows their words, as train.tsv and dev.tsv (text<TAB>neg|pos)."""
    rows = sentiment_rows(n_train + n_dev, seed=3)
    os.makedirs(root, exist_ok=True)
    for name, part in (("train.tsv", rows[:n_train]), ("dev.tsv", rows[n_train:])):
        with open(os.path.join(root, name), "w", encoding="utf-8") as f:
            f.writelines(f"{text}\t{['neg', 'pos'][int(label)]}\n" for text, label in part)
    return str(root)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return _write_splits(tmp_path_factory.mktemp("reviews"))


def _network_task(module_dir, data_dir, network, checkpoint_dir, trainable=True, lr=1e-3, epochs=4):
    module = hub.Module(directory=module_dir)
    inputs, outputs, _ = module.context(trainable=trainable, max_seq_len=32)
    dataset = hub.dataset.BaseNLPDataset(base_path=data_dir, train_file="train.tsv", dev_file="dev.tsv",
                                         label_list=["neg", "pos"])
    reader = hub.reader.ClassifyReader(dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=32)
    config = hub.RunConfig(num_epoch=epochs, batch_size=16, seed=7, use_vdl=False, checkpoint_dir=str(checkpoint_dir),
                           eval_interval=1000, strategy=hub.AdamWeightDecayStrategy(learning_rate=lr))
    return hub.TextClassifierTask(data_reader=reader, token_feature=outputs["sequence_output"], network=network,
                                  feed_list=[inputs[name].name for name in FEED], num_classes=dataset.num_labels,
                                  config=config, metrics_choices=["acc"])


# ---------------------------------------------------------------- predefined networks
@pytest.mark.parametrize("network", NETWORKS)
def test_each_network_learns_real_words(network, tiny_bert_dir, data_dir, tmp_path):
    # DPCNN's seven residual blocks saturate its tanh at a large rate; PaddleHub's demos used 5e-5
    task = _network_task(tiny_bert_dir, data_dir, network, tmp_path / "ckpt", lr=1e-4 if network == "dpcnn" else 1e-3)
    task.eval(phase="dev")
    before = task.last_result("dev")
    task.finetune_and_eval()
    after = task.last_result("dev")
    assert after["loss"] < before["loss"] - 0.01, (network, before, after)
    assert after["acc"] >= 0.75, (network, after)


def _padded_longer(batch, extra, pad_id):
    """The batch with `extra` more padding positions: pad ids, continuing positions, zero segments and mask."""
    ids, positions, segments, mask = batch
    n, t = ids.shape
    return [np.concatenate([ids, np.full((n, extra), pad_id, ids.dtype)], 1),
            np.tile(np.arange(t + extra, dtype=positions.dtype), (n, 1)),
            np.concatenate([segments, np.zeros((n, extra), segments.dtype)], 1),
            np.concatenate([mask, np.zeros((n, extra), mask.dtype)], 1)]


def test_padding_never_changes_a_texts_logits(tiny_bert_dir, data_dir, tmp_path):
    for network in NETWORKS:
        task = _network_task(tiny_bert_dir, data_dir, network, tmp_path / network)
        reader = task.data_reader
        examples = reader.examples_dataset([[t] for t in TEXTS])
        batch = reader.collate_fn([examples[i] for i in range(len(TEXTS))])
        alone = reader.collate_fn([examples[1]])  # "bad": 3 tokens, padded to 14 in the batch
        task.network.eval()
        with paddle.no_grad():
            logits = task.network(*[paddle.to_tensor(a) for a in batch]).numpy()
            longer = task.network(*[paddle.to_tensor(a) for a in _padded_longer(batch, 9, reader.pad_id)]).numpy()
            single = task.network(*[paddle.to_tensor(a) for a in alone]).numpy()
            ids_only = task.network(paddle.to_tensor(batch[0])).numpy()  # the mask from the padding id
        assert np.abs(longer - logits).max() < 1e-5, network
        assert np.abs(single[0] - logits[1]).max() < 1e-5, network
        assert np.abs(ids_only - logits).max() < 1e-5, network


def test_network_export_and_frozen_backbone(tiny_bert_dir, data_dir, tmp_path):
    """A frozen backbone (features cached) under a network head trains, predicts and exports alike."""
    task = _network_task(tiny_bert_dir, data_dir, "dpcnn", tmp_path / "ckpt", trainable=False, epochs=2)
    task.finetune()
    assert task.current_run.frozen is not None and task.current_run.frozen.cache is not None
    probs = np.concatenate([rs.run_results[0] for rs in task.predict(data=[[t] for t in TEXTS])])
    predictor = hub.Predictor(task.export(str(tmp_path / "export")))
    got = np.array([r["probabilities"] for r in predictor.predict(TEXTS)])
    assert np.abs(got - probs).max() < 1e-5


def test_network_arguments_are_checked(tiny_bert_dir):
    module = hub.Module(directory=tiny_bert_dir)
    _, outputs, _ = module.context(max_seq_len=32)
    tokens, pooled = outputs["sequence_output"], outputs["pooled_output"]
    cases = [
        (dict(token_feature=tokens, network="transformer"),
         r"network='transformer' is not a predefined network; choose one of 'bilstm', 'bow', 'cnn', 'dpcnn', "
         r"'gru', 'lstm'"),
        (dict(feature=pooled, token_feature=tokens, network="bow"), r"pass feature=.*or token_feature=.*not both"),
        (dict(feature=pooled, network="cnn"), r"network='cnn' reads one vector per token: pass token_feature="),
        (dict(token_feature=pooled, network="gru"), r"reads one vector per token: pass outputs\['sequence_output'\]"),
        (dict(token_feature=tokens), r"token_feature= is read by a predefined network: add network="),
        (dict(), r"needs feature=outputs\['pooled_output'\], or token_feature="),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            hub.TextClassifierTask(num_classes=2, **kwargs)
    task = hub.TextClassifierTask(token_feature=module, network="bow", num_classes=3)  # a module gives its tokens
    assert task.feature_dim == 32 and task.network_name == "bow"


# ---------------------------------------------------------------- PaddleHub 1.8's tokenizers
def test_bert_tokenizer_encodes_as_the_reader_and_as_paddlehub_18(tiny_bert_dir):
    module = hub.Module(directory=tiny_bert_dir)
    tokenizer = hub.BertTokenizer(vocab_file=module.get_vocab_path())
    reader = hub.reader.ClassifyReader(vocab_path=module.get_vocab_path(), max_seq_len=9)
    items = [["The movie was GOOD"], ["the film was very very awful not good at all"],
             ["a fine film", "the movie was very very poor"], ["bad", "great"]]
    encoded = reader.examples_dataset(items)
    for i, item in enumerate(items):
        record = tokenizer.encode(*item, max_seq_len=9)
        assert list(record) == ["input_ids", "segment_ids", "seq_len", "input_mask", "position_ids"]
        n = record["seq_len"]
        assert all(len(record[k]) == 9 for k in FEED) and record["position_ids"] == list(range(9))
        assert record["input_mask"] == [1] * n + [0] * (9 - n)
        assert record["input_ids"][n:] == [tokenizer.pad_token_id] * (9 - n)
        for name, field in zip(FEED, encoded[i]):
            assert record[name][:n] == field.tolist(), (item, name)

    unpadded = tokenizer.encode("the movie was good", pad_to_max_seq_len=False, max_seq_len=32)
    assert len(unpadded["input_ids"]) == unpadded["seq_len"] == 6
    assert tokenizer.tokenize("The film") == ["the", "film"]
    ids = tokenizer.convert_tokens_to_ids(["the", "film", "nonsense"])
    assert ids[2] == tokenizer.unk_token_id
    assert tokenizer.decode(record, skip_pad_token=True) == "[CLS] bad [SEP] great [SEP]"
    assert tokenizer.decode(record, skip_special_tokens=True) == "bad great"
    assert tokenizer.decode(record, only_convert_to_tokens=True)[-1] == "[PAD]"
    cut = tokenizer.encode("the movie was good", "bad film", max_seq_len=8, return_overflowing_tokens=True)
    assert cut["num_truncated_tokens"] == 1 and tokenizer.convert_ids_to_tokens(cut["overflowing_tokens"]) == ["good"]
    with pytest.raises(ValueError, match="do_not_truncate"):
        tokenizer.encode("the movie was good", max_seq_len=4, truncation_strategy="do_not_truncate")
    with pytest.raises(FileNotFoundError, match="vocab file not found"):
        hub.BertTokenizer(vocab_file=os.path.join(tiny_bert_dir, "missing.txt"))


def _ernie_tiny_files(directory):
    import sentencepiece as spm

    corpus = os.path.join(directory, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(text for text, _ in sentiment_rows(200)))
    prefix = os.path.join(directory, "spm")
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=40, hard_vocab_limit=False,
                                   minloglevel=2)
    sp = spm.SentencePieceProcessor()
    sp.Load(prefix + ".model")
    pieces = [sp.IdToPiece(i) for i in range(3, sp.GetPieceSize())]
    vocab = os.path.join(directory, "vocab.txt")
    with open(vocab, "w", encoding="utf-8") as f:  # "▁bad" left out: it becomes [UNK]
        f.write("\n".join(["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"] + [p for p in pieces if p != "\u2581bad"]))
    words = os.path.join(directory, "dict.wordseg.pickle")
    with open(words, "wb") as f:
        pickle.dump({"good": 1, "bad": 2}, f)
    return vocab, prefix + ".model", words


def test_ernie_tiny_tokenizer_cuts_words_then_pieces(tmp_path):
    vocab, spm_path, words = _ernie_tiny_files(str(tmp_path))
    tokenizer = hub.ErnieTinyTokenizer(vocab_file=vocab, spm_path=spm_path, word_dict_path=words)
    assert tokenizer.cut("goodbad") == ["good", "bad"]  # the dictionary's words, by longest match
    assert tokenizer.cut("Good bad") == ["G", "o", "o", "d", " ", "bad"]  # cut before lower-casing
    tokens = tokenizer.tokenize("goodbad")
    assert tokens == ["\u2581good", "[UNK]"]  # "▁bad" is a piece outside the vocabulary
    record = tokenizer.encode("goodbad", max_seq_len=6)
    assert record["input_ids"] == [1] + tokenizer.convert_tokens_to_ids(tokens) + [2, 0, 0]
    assert record["seq_len"] == 4 and record["input_mask"] == [1, 1, 1, 1, 0, 0]
    reader = hub.reader.ClassifyReader(vocab_path=vocab, sp_model_path=spm_path, word_dict_path=words, max_seq_len=6)
    assert reader.examples_dataset([["goodbad"]])[0][0].tolist() == record["input_ids"][:4]

    class Runs:  # a pickle that would call a function as it loads
        def __reduce__(self):
            return (os.getcwd, ())
    with open(words, "wb") as f:
        pickle.dump({"movie": Runs()}, f)
    with pytest.raises(UnsafeFileError, match="Nothing from the file was run"):
        hub.ErnieTinyTokenizer(vocab_file=vocab, spm_path=spm_path, word_dict_path=words)
    with pytest.raises(FileNotFoundError, match=r"spm_path=None is not a file.*module.get_spm_path\(\)"):
        hub.ErnieTinyTokenizer(vocab_file=vocab, spm_path=None, word_dict_path=words)


def test_custom_tokenizer_gives_word_ids(tmp_path):
    vocab = tmp_path / "words.txt"
    vocab.write_text("[PAD]\nthe\nmovie\nwas\ngood\n", encoding="utf-8")
    tokenizer = hub.CustomTokenizer(vocab_file=str(vocab), tokenize_chinese_chars=False)
    assert tokenizer.encode("The movie was really good", max_seq_len=6) == {"text": [1, 2, 3, 4, 0, 0], "seq_len": 4}
    assert tokenizer.encode("nothing known", max_seq_len=6) == {}
    assert tokenizer.decode([1, 2, 0], skip_pad_token=True) == ["the", "movie"]
    spaced = hub.CustomTokenizer(vocab_file=str(vocab), cut_function=str.split)
    assert spaced.encode("the movie", max_seq_len=3)["text"] == [1, 2, 0]
    chinese = tmp_path / "zh.txt"
    chinese.write_text("<pad>\n<unk>\n电影\n很\n好\n", encoding="utf-8")
    jieba_cut = hub.CustomTokenizer(vocab_file=str(chinese))  # Chinese words by jieba; <pad> pads
    assert jieba_cut.encode("这部电影很好", max_seq_len=4) == {"text": [2, 3, 4, 0], "seq_len": 3}
    (tmp_path / "nopad.txt").write_text("the\nmovie\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no pad token '\[PAD\]' \(nor <pad>\)"):
        hub.CustomTokenizer(vocab_file=str(tmp_path / "nopad.txt"), tokenize_chinese_chars=False)


def test_word_module_trains_on_custom_tokenizer_records(tmp_path, data_dir):
    """PaddleHub 1.8's Senta flow: CustomTokenizer -> dataset(tokenizer=) -> Task(dataset=,
    feature=sentence_feature)."""
    from hubtrain.zoo.word import build_word_module

    words = sorted({w for text, _ in sentiment_rows(200) for w in text.split()})
    module = hub.Module(directory=build_word_module(str(tmp_path / "senta"), words, emb_dim=16, hid_dim=16,
                                                    hid_dim2=16))
    inputs, outputs, _ = module.context(trainable=True, max_seq_len=16)
    tokenizer = hub.CustomTokenizer(vocab_file=module.get_vocab_path(), tokenize_chinese_chars=False)
    dataset = hub.dataset.BaseNLPDataset(base_path=data_dir, train_file="train.tsv", dev_file="dev.tsv",
                                         label_list=["neg", "pos"], tokenizer=tokenizer, max_seq_len=16)
    assert dataset.get_feed_list("train") == ["text", "seq_len", "label"]
    config = hub.RunConfig(num_epoch=4, batch_size=16, seed=7, use_vdl=False, checkpoint_dir=str(tmp_path / "ckpt"),
                           strategy=hub.AdamWeightDecayStrategy(learning_rate=1e-2))
    task = hub.TextClassifierTask(dataset=dataset, feature=outputs["sentence_feature"],
                                  num_classes=dataset.num_labels, config=config)
    task.finetune_and_eval()
    assert task.last_result("dev")["acc"] >= 0.75
    assert task.predict(data=["the film was great", "poor"], label_list=["neg", "pos"]) == ["pos", "neg"]


# ---------------------------------------------------------------- tokenized datasets and Task(dataset=...)
def test_dataset_records_as_paddlehub_18(tiny_bert_dir, data_dir):
    tokenizer = hub.BertTokenizer(vocab_file=os.path.join(tiny_bert_dir, "vocab.txt"))
    dataset = hub.dataset.BaseNLPDataset(base_path=data_dir, train_file="train.tsv", dev_file="dev.tsv",
                                         label_list=["neg", "pos"], tokenizer=tokenizer, max_seq_len=16)
    records = dataset.get_train_records()
    assert len(records) == 64 and dataset.get_feed_list("train") == [
        "input_ids", "segment_ids", "seq_len", "input_mask", "position_ids", "label"]
    first = dataset.get_train_examples()[0]
    assert records[0] == dict(tokenizer.encode(first.text_a, max_seq_len=16), label=["neg", "pos"].index(first.label))
    assert dataset.get_dev_records() is dataset.dev_records and dataset.get_test_records() == []
    shuffled = dataset.get_train_records(shuffle=True)
    assert sorted(r["seq_len"] for r in shuffled) == sorted(r["seq_len"] for r in records)
    batch = next(dataset.batch_records_generator("train", 8, shuffle=False, pad_to_batch_max_seq_len=True))
    longest = max(r["seq_len"] for r in records[:8])
    assert len(batch["input_ids"]) == 8 and {len(ids) for ids in batch["input_ids"]} == {longest}
    assert len(records[0]["input_ids"]) == 16  # the kept records are not cut
    plain = hub.dataset.BaseNLPDataset(base_path=data_dir, train_file="train.tsv", label_list=["neg", "pos"])
    assert plain.get_train_records() == []
    few = dataset.few_shot(4)
    assert len(few.get_train_records()) == 8

    _, outputs, _ = hub.Module(directory=tiny_bert_dir).context(max_seq_len=32)
    with pytest.raises(ValueError, match=r"a task reads a dataset built with a tokenizer"):
        hub.TextClassifierTask(dataset=plain, feature=outputs["pooled_output"], num_classes=2)
    reader = hub.reader.ClassifyReader(dataset=plain, vocab_path=os.path.join(tiny_bert_dir, "vocab.txt"))
    with pytest.raises(ValueError, match="not both"):
        hub.TextClassifierTask(dataset=dataset, data_reader=reader, feature=outputs["pooled_output"], num_classes=2)
    with pytest.raises(TypeError, match=r"has no encode\(\) and tokenize\(\); pass hub.BertTokenizer"):
        hub.dataset.BaseNLPDataset(base_path=data_dir, train_file="train.tsv", tokenizer="bert")


def test_sequence_label_records_align_tags_to_pieces(tmp_path):
    (tmp_path / "train.tsv").write_text("the\x02moviegood\x02film\tO\x02B-X\x02O\n", encoding="utf-8")
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nmovie\n##good\nfilm\n",
                                        encoding="utf-8")
    tokenizer = hub.BertTokenizer(vocab_file=str(tmp_path / "vocab.txt"))
    dataset = hub.dataset.SequenceLabelDataset(base_path=str(tmp_path), train_file="train.tsv",
                                               label_list=["B-X", "I-X", "O"], tokenizer=tokenizer, max_seq_len=8)
    record = dataset.get_train_records()[0]
    tokens = tokenizer.convert_ids_to_tokens(record["input_ids"][:record["seq_len"]])
    assert tokens == ["[CLS]", "the", "movie", "##good", "film", "[SEP]"]
    assert record["label"] == [2, 2, 0, 1, 2, 2, 2, 2]  # O on [CLS], [SEP] and padding; B-X then I-X


V18_SCRIPT = '''
import hubtrain as hub

module = hub.Module(directory=MODULE_DIR)
inputs, outputs, program = module.context(trainable=True, max_seq_len=32)
tokenizer = hub.BertTokenizer(vocab_file=module.get_vocab_path())
dataset = hub.dataset.ChnSentiCorp(tokenizer=tokenizer, max_seq_len=32)

strategy = hub.AdamWeightDecayStrategy(warmup_proportion=0.1, weight_decay=0.01, learning_rate=1e-3)
config = hub.RunConfig(use_cuda=False, num_epoch=5, batch_size=16, checkpoint_dir=CHECKPOINT_DIR, strategy=strategy)
cls_task = hub.TextClassifierTask(dataset=dataset, token_feature=outputs["sequence_output"], network="lstm",
                                  num_classes=dataset.num_labels, config=config, metrics_choices=["acc"])
cls_task.finetune_and_eval()

encoded_data = [tokenizer.encode(text=text, max_seq_len=32) for text in TEXTS]
predictions = cls_task.predict(data=encoded_data, label_list=dataset.get_labels())
'''


def test_a_paddlehub_18_script_runs(tiny_bert_dir, hub_home, tmp_path):
    folder = hub_home / "datasets" / "chnsenticorp"
    folder.mkdir(parents=True)
    rows = sentiment_rows(112, seed=5)
    for name, part in (("train.tsv", rows[:64]), ("dev.tsv", rows[64:88]), ("test.tsv", rows[88:])):
        (folder / name).write_text("label\ttext_a\n" + "".join(f"{label}\t{text}\n" for text, label in part),
                                   encoding="utf-8")
    script = tmp_path / "text_cls.py"
    script.write_text(V18_SCRIPT, encoding="utf-8")
    paddle.seed(0)  # the script, as 1.8's, seeds nothing: the head's first weights come from here
    np.random.seed(0)
    done = runpy.run_path(str(script), init_globals={"MODULE_DIR": tiny_bert_dir, "TEXTS": TEXTS,
                                                     "CHECKPOINT_DIR": str(tmp_path / "ckpt")})
    task = done["cls_task"]
    assert task.last_result("test")["acc"] >= 0.75
    assert task.last_result("dev")["acc"] >= 0.75
    assert done["predictions"][:2] == ["1", "0"]  # "the movie was good", "bad"
    assert os.path.isdir(tmp_path / "ckpt" / "best_model")
    exported = hub.Predictor(task.export(str(tmp_path / "export"))).predict(TEXTS)  # the tokenizer goes along
    assert [r["label"] for r in exported] == done["predictions"]
