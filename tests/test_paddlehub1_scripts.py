"""PaddleHub 1.x fine-tuning scripts, one per task type, written as PaddleHub 1.x's demos and
documentation write them with only the import changed (`import hubtrain as hub`), run as
scripts (`__main__`, argparse) against a HUBTRAIN_HOME that holds the modules and datasets they
name in PaddleHub's formats (tests/scripts/paddlehub1_home.py). Each training script is followed
by its predict script, which reads the checkpoint the first one wrote."""
import os
import runpy
import sys

import numpy as np
import pytest

from paddlehub1_home import write_home

ARGS = ["--use_gpu", "False", "--num_epoch", "4", "--batch_size", "16", "--max_seq_len", "32"]


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_bert_dir):
    return write_home(str(tmp_path_factory.mktemp("hub_home")), tiny_bert_dir)


@pytest.fixture
def run_script(home, tmp_path, monkeypatch, capsys):
    """Run a script's text as `python script.py ARGS...` in this process; returns its globals and stdout."""
    monkeypatch.setenv("HUBTRAIN_HOME", home)
    monkeypatch.chdir(tmp_path)

    def run(name, text, *args):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        monkeypatch.setattr(sys, "argv", [str(path), *args])
        capsys.readouterr()
        namespace = runpy.run_path(str(path), run_name="__main__")
        return namespace, capsys.readouterr().out

    return run


COMMON_ARGS = '''
import argparse
import ast

import hubtrain as hub

parser = argparse.ArgumentParser(__doc__)
parser.add_argument("--num_epoch", type=int, default=3, help="Number of epoches for fine-tuning.")
parser.add_argument("--use_gpu", type=ast.literal_eval, default=True, help="Whether use GPU for fine-tuning.")
parser.add_argument("--learning_rate", type=float, default=5e-5, help="Learning rate used to train with warmup.")
parser.add_argument("--weight_decay", type=float, default=0.01, help="Weight decay rate for L2 regularizer.")
parser.add_argument("--warmup_proportion", type=float, default=0.1, help="Warmup proportion.")
parser.add_argument("--checkpoint_dir", type=str, default=None, help="Directory to model checkpoint")
parser.add_argument("--max_seq_len", type=int, default=512, help="Number of words of the longest seqence.")
parser.add_argument("--batch_size", type=int, default=32, help="Total examples' number in batch for training.")
parser.add_argument("--use_data_parallel", type=ast.literal_eval, default=False, help="Whether use data parallel.")
parser.add_argument("--network", type=str, default=None, help="Pre-defined network after the module.")
args = parser.parse_args()
'''

TEXT_CLS = COMMON_ARGS + '''
if __name__ == '__main__':
    module = hub.Module(name="ernie_tiny")
    inputs, outputs, program = module.context(trainable=True, max_seq_len=args.max_seq_len)
    dataset = hub.dataset.ChnSentiCorp()
    metrics_choices = ["acc"]
    reader = hub.reader.ClassifyReader(
        dataset=dataset,
        vocab_path=module.get_vocab_path(),
        max_seq_len=args.max_seq_len,
        sp_model_path=module.get_spm_path(),
        word_dict_path=module.get_word_dict_path())
    feed_list = [inputs["input_ids"].name, inputs["position_ids"].name,
                 inputs["segment_ids"].name, inputs["input_mask"].name]
    strategy = hub.AdamWeightDecayStrategy(
        warmup_proportion=args.warmup_proportion, weight_decay=args.weight_decay,
        learning_rate=args.learning_rate)
    config = hub.RunConfig(
        use_data_parallel=args.use_data_parallel, use_cuda=args.use_gpu, num_epoch=args.num_epoch,
        batch_size=args.batch_size, checkpoint_dir=args.checkpoint_dir, strategy=strategy)
    if args.network:
        cls_task = hub.TextClassifierTask(
            data_reader=reader, token_feature=outputs["sequence_output"], feed_list=feed_list,
            network=args.network, num_classes=dataset.num_labels, config=config, metrics_choices=metrics_choices)
    else:
        cls_task = hub.TextClassifierTask(
            data_reader=reader, feature=outputs["pooled_output"], feed_list=feed_list,
            num_classes=dataset.num_labels, config=config, metrics_choices=metrics_choices)
    cls_task.finetune_and_eval()
'''

TEXT_PREDICT = COMMON_ARGS + '''
if __name__ == '__main__':
    module = hub.Module(name="ernie_tiny")
    inputs, outputs, program = module.context(trainable=True, max_seq_len=args.max_seq_len)
    dataset = hub.dataset.ChnSentiCorp()
    reader = hub.reader.ClassifyReader(
        dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=args.max_seq_len,
        sp_model_path=module.get_spm_path(), word_dict_path=module.get_word_dict_path())
    feed_list = [inputs["input_ids"].name, inputs["position_ids"].name,
                 inputs["segment_ids"].name, inputs["input_mask"].name]
    config = hub.RunConfig(
        use_data_parallel=args.use_data_parallel, use_cuda=args.use_gpu, batch_size=args.batch_size,
        checkpoint_dir=args.checkpoint_dir, strategy=hub.AdamWeightDecayStrategy())
    if args.network:
        cls_task = hub.TextClassifierTask(
            data_reader=reader, token_feature=outputs["sequence_output"], feed_list=feed_list,
            network=args.network, num_classes=dataset.num_labels, config=config)
    else:
        cls_task = hub.TextClassifierTask(
            data_reader=reader, feature=outputs["pooled_output"], feed_list=feed_list,
            num_classes=dataset.num_labels, config=config)
    data = [["the movie was great great"], ["the film was awful"], ["the movie was good fine"], ["the film was poor bad"]]
    results = cls_task.predict(data=data, return_result=True)
    print(results)
'''


@pytest.mark.parametrize("network", [None, "bilstm"])
def test_text_classification_then_predict(run_script, tmp_path, network):
    ckpt = str(tmp_path / "ckpt_text")
    extra = ["--network", network] if network else []
    trained, _ = run_script("text_cls.py", TEXT_CLS, *ARGS, "--num_epoch", "6", "--learning_rate", "2e-3",
                            "--checkpoint_dir", ckpt, *extra)
    task = trained["cls_task"]
    assert task.last_result("dev")["acc"] >= 0.8                 # the reviews' words decide their label
    assert task.last_result("test")["acc"] >= 0.8
    assert os.path.isdir(os.path.join(ckpt, "best_model"))
    predicted, out = run_script("predict.py", TEXT_PREDICT, "--use_gpu", "False", "--checkpoint_dir", ckpt,
                                "--max_seq_len", "32", *extra)
    assert predicted["results"] == ["1", "0", "1", "0"]          # ChnSentiCorp's label names, from the best model
    assert str(predicted["results"]) in out


MULTI_LABEL = COMMON_ARGS + '''
if __name__ == '__main__':
    module = hub.Module(name="ernie_v2_eng_base")
    inputs, outputs, program = module.context(trainable=True, max_seq_len=args.max_seq_len)
    dataset = hub.dataset.Toxic()
    reader = hub.reader.MultiLabelClassifyReader(
        dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=args.max_seq_len)
    pooled_output = outputs["pooled_output"]
    feed_list = [inputs["input_ids"].name, inputs["position_ids"].name,
                 inputs["segment_ids"].name, inputs["input_mask"].name]
    strategy = hub.AdamWeightDecayStrategy(
        warmup_proportion=args.warmup_proportion, learning_rate=args.learning_rate, weight_decay=args.weight_decay)
    config = hub.RunConfig(
        use_data_parallel=args.use_data_parallel, use_cuda=args.use_gpu, num_epoch=args.num_epoch,
        batch_size=args.batch_size, checkpoint_dir=args.checkpoint_dir, strategy=strategy)
    multi_label_cls_task = hub.MultiLabelClassifierTask(
        data_reader=reader, feature=pooled_output, feed_list=feed_list, num_classes=dataset.num_labels,
        config=config)
    multi_label_cls_task.finetune_and_eval()
    data = [["the movie was awful awful"], ["the film was great"]]
    results = multi_label_cls_task.predict(data=data, return_result=True)
    print(results)
'''


def test_multi_label_classification(run_script, tmp_path):
    ns, _ = run_script("multi_label_classifier.py", MULTI_LABEL, *ARGS, "--num_epoch", "10", "--learning_rate", "1e-3",
                       "--checkpoint_dir", str(tmp_path / "ckpt"))
    results = ns["results"]
    labels = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
    # 1.x's form: per example, one {label: 0/1} for each label, in the dataset's order
    assert [[list(d) for d in r] for r in results] == [[[name] for name in labels]] * 2
    assert all(list(d.values())[0] in (0, 1) for r in results for d in r)
    assert ns["multi_label_cls_task"].last_result("dev")["auc"] > 0.7   # mean over the labels; chance 0.5
    task = ns["multi_label_cls_task"]
    probabilities = np.vstack([rs.run_results[0] for rs in task.predict(data=[["the movie was awful awful"],
                                                                               ["the film was great"]])])
    assert probabilities[0, 0] > probabilities[1, 0]           # a negative review is the more "toxic" here
    expected = [[{name: int(p > 0.5)} for name, p in zip(labels, row)] for row in probabilities]
    assert results == expected


REGRESSION = COMMON_ARGS + '''
if __name__ == '__main__':
    module = hub.Module(name="ernie_v2_eng_base")
    inputs, outputs, program = module.context(trainable=True, max_seq_len=args.max_seq_len)
    dataset = hub.dataset.GLUE("STS-B")
    reader = hub.reader.RegressionReader(
        dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=args.max_seq_len)
    pooled_output = outputs["pooled_output"]
    feed_list = [inputs["input_ids"].name, inputs["position_ids"].name,
                 inputs["segment_ids"].name, inputs["input_mask"].name]
    strategy = hub.AdamWeightDecayStrategy(
        warmup_proportion=args.warmup_proportion, learning_rate=args.learning_rate, weight_decay=args.weight_decay)
    config = hub.RunConfig(
        eval_interval=300, use_data_parallel=args.use_data_parallel, use_cuda=args.use_gpu,
        num_epoch=args.num_epoch, batch_size=args.batch_size, checkpoint_dir=args.checkpoint_dir, strategy=strategy)
    reg_task = hub.RegressionTask(data_reader=reader, feature=pooled_output, feed_list=feed_list, config=config)
    reg_task.finetune_and_eval()
    data = [[d.text_a, d.text_b] for d in dataset.get_predict_examples()[:10]]
    results = reg_task.predict(data=data, return_result=True)
    print(results)
'''


def test_regression(run_script, tmp_path):
    ns, _ = run_script("regression.py", REGRESSION, *ARGS, "--learning_rate", "5e-3",
                       "--checkpoint_dir", str(tmp_path / "ckpt"))
    results, task = ns["results"], ns["reg_task"]
    data = [[d.text_a, d.text_b] for d in ns["dataset"].get_predict_examples()[:10]]
    raw = np.vstack([rs.run_results[0] for rs in task.predict(data=data)]).reshape(-1)
    assert len(results) == 10 and np.allclose(np.asarray(results, dtype=float).reshape(-1), raw)  # one value each
    assert np.isfinite(raw).all()
    dev = task.last_result("dev")
    assert set(dev) == {"loss", "pearson"} and -1.0 <= dev["pearson"] <= 1.0   # learning: test_tasks_multilabel_regression


SEQUENCE_LABEL = COMMON_ARGS + '''
if __name__ == '__main__':
    module = hub.Module(name="ernie_tiny")
    inputs, outputs, program = module.context(trainable=True, max_seq_len=args.max_seq_len)
    dataset = hub.dataset.MSRA_NER()
    reader = hub.reader.SequenceLabelReader(
        dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=args.max_seq_len,
        sp_model_path=module.get_spm_path(), word_dict_path=module.get_word_dict_path())
    inv_label_map = {val: key for key, val in reader.label_map.items()}
    sequence_output = outputs["sequence_output"]
    feed_list = [inputs["input_ids"].name, inputs["position_ids"].name,
                 inputs["segment_ids"].name, inputs["input_mask"].name]
    strategy = hub.AdamWeightDecayStrategy(
        warmup_proportion=args.warmup_proportion, weight_decay=args.weight_decay, learning_rate=args.learning_rate)
    config = hub.RunConfig(
        use_data_parallel=args.use_data_parallel, use_cuda=args.use_gpu, num_epoch=args.num_epoch,
        batch_size=args.batch_size, checkpoint_dir=args.checkpoint_dir, strategy=strategy)
    seq_label_task = hub.SequenceLabelTask(
        data_reader=reader, feature=sequence_output, feed_list=feed_list, max_seq_len=args.max_seq_len,
        num_classes=dataset.num_labels, config=config, add_crf=True)
    seq_label_task.finetune_and_eval()
    data = [["themoviewasgood"], ["thefilmwasbad"]]
    tmp_data = []
    for example in data:
        formatted = []
        for sentence in example:
            formatted.append('\\x02'.join(list(sentence)))
        tmp_data.append(formatted)
    data = tmp_data
    results = seq_label_task.predict(data=data, return_result=True)
    print(results)
'''


def test_sequence_labelling_with_crf(run_script, tmp_path):
    ns, _ = run_script("sequence_label.py", SEQUENCE_LABEL, *ARGS, "--num_epoch", "6", "--learning_rate", "1e-2",
                       "--checkpoint_dir", str(tmp_path / "ckpt"))
    results = ns["results"]
    assert set(ns["inv_label_map"].values()) == set(ns["dataset"].get_labels())
    assert [len(r) for r in results] == [len("themoviewasgood"), len("thefilmwasbad")]
    assert all(tag in ns["dataset"].get_labels() for r in results for tag in r)
    assert results[0][-4:] == ["B-PER", "I-PER", "I-PER", "I-PER"]     # "good"
    assert ns["seq_label_task"].last_result("dev")["f1"] > 0.8


READING = COMMON_ARGS + '''
hub.common.logger.logger.setLevel("INFO")

if __name__ == '__main__':
    module = hub.Module(name="bert_uncased_L-12_H-768_A-12")
    inputs, outputs, program = module.context(trainable=True, max_seq_len=args.max_seq_len)
    dataset = hub.dataset.SQUAD(version_2_with_negative=False)
    reader = hub.reader.ReadingComprehensionReader(
        dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=args.max_seq_len,
        doc_stride=128, max_query_length=16)
    seq_output = outputs["sequence_output"]
    feed_list = [inputs["input_ids"].name, inputs["position_ids"].name,
                 inputs["segment_ids"].name, inputs["input_mask"].name]
    strategy = hub.AdamWeightDecayStrategy(
        weight_decay=args.weight_decay, learning_rate=args.learning_rate, warmup_proportion=args.warmup_proportion)
    config = hub.RunConfig(
        eval_interval=300, use_data_parallel=args.use_data_parallel, use_cuda=args.use_gpu,
        num_epoch=args.num_epoch, batch_size=args.batch_size, checkpoint_dir=args.checkpoint_dir, strategy=strategy)
    reading_comprehension_task = hub.ReadingComprehensionTask(
        data_reader=reader, feature=seq_output, feed_list=feed_list, config=config, sub_task="squad")
    reading_comprehension_task.finetune_and_eval()
    data = dataset.dev_examples[:10]
    results = reading_comprehension_task.predict(data=data, return_result=True)
    print(results)
'''


def test_reading_comprehension(run_script, tmp_path):
    ns, _ = run_script("reading_comprehension.py", READING, *ARGS, "--num_epoch", "8", "--learning_rate", "1e-2",
                       "--checkpoint_dir", str(tmp_path / "ckpt"))
    results, examples = ns["results"], ns["dataset"].dev_examples[:10]
    assert isinstance(results, dict) and len(results) == 10
    ids = [e.guid for e in examples]
    assert sorted(results) == sorted(ids)
    gold = {e.guid: e.text_b.split()[-1] for e in examples}      # "... the movie was <answer>"
    assert sum(results[qid] == answer for qid, answer in gold.items()) >= 8
    assert ns["reading_comprehension_task"].last_result("dev")["em"] >= 0.8


QA_CLASSIFICATION = COMMON_ARGS + '''
if __name__ == '__main__':
    module = hub.Module(name="ernie")
    inputs, outputs, program = module.context(trainable=True, max_seq_len=args.max_seq_len)
    dataset = hub.dataset.NLPCC_DBQA()
    reader = hub.reader.ClassifyReader(
        dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=args.max_seq_len)
    pooled_output = outputs["pooled_output"]
    feed_list = [inputs["input_ids"].name, inputs["position_ids"].name,
                 inputs["segment_ids"].name, inputs["input_mask"].name]
    strategy = hub.AdamWeightDecayStrategy(
        weight_decay=args.weight_decay, learning_rate=args.learning_rate, warmup_proportion=args.warmup_proportion)
    config = hub.RunConfig(
        use_data_parallel=args.use_data_parallel, use_cuda=args.use_gpu, num_epoch=args.num_epoch,
        batch_size=args.batch_size, checkpoint_dir=args.checkpoint_dir, strategy=strategy)
    cls_task = hub.TextClassifierTask(
        data_reader=reader, feature=pooled_output, feed_list=feed_list, num_classes=dataset.num_labels,
        config=config)
    cls_task.finetune_and_eval()
    data = [["good", "the movie was great"], ["bad", "the film was great"]]
    results = cls_task.predict(data=data, return_result=True)
    print(results)
'''


def test_question_answer_classification(run_script, tmp_path):
    ns, _ = run_script("classifier.py", QA_CLASSIFICATION, *ARGS, "--learning_rate", "5e-3",
                       "--checkpoint_dir", str(tmp_path / "ckpt"))
    assert len(ns["results"]) == 2 and set(ns["results"]) <= {"0", "1"}
    task = ns["cls_task"]
    raw = np.vstack([rs.run_results[0] for rs in task.predict(data=ns["data"])])
    assert ns["results"] == [["0", "1"][i] for i in raw.argmax(axis=1)]   # each the name of its most probable class
    assert set(task.last_result("dev")) == {"loss", "acc"}


IMAGE_CLS = '''
import argparse
import ast

import hubtrain as hub

parser = argparse.ArgumentParser(__doc__)
parser.add_argument("--num_epoch", type=int, default=1, help="Number of epoches for fine-tuning.")
parser.add_argument("--use_gpu", type=ast.literal_eval, default=True, help="Whether use GPU for fine-tuning.")
parser.add_argument("--checkpoint_dir", type=str, default="paddlehub_finetune_ckpt", help="Path to save log data.")
parser.add_argument("--batch_size", type=int, default=16, help="Total examples' number in batch for training.")
parser.add_argument("--module", type=str, default="resnet50", help="Module used as feature extractor.")
parser.add_argument("--dataset", type=str, default="flowers", help="Dataset to fine-tune.")
parser.add_argument("--use_data_parallel", type=ast.literal_eval, default=False, help="Whether use data parallel.")

module_map = {
    "resnet50": "resnet_v2_50_imagenet",
    "mobilenet": "mobilenet_v2_imagenet",
}


def finetune(args):
    module = hub.Module(name=args.module)
    input_dict, output_dict, program = module.context(trainable=True)
    if args.dataset.lower() == "flowers":
        dataset = hub.dataset.Flowers()
    elif args.dataset.lower() == "dogcat":
        dataset = hub.dataset.DogCat()
    else:
        raise ValueError("%s dataset is not defined" % args.dataset)
    data_reader = hub.reader.ImageClassificationReader(
        image_width=module.get_expected_image_width(),
        image_height=module.get_expected_image_height(),
        images_mean=module.get_pretrained_images_mean(),
        images_std=module.get_pretrained_images_std(),
        dataset=dataset)
    feature_map = output_dict["feature_map"]
    feed_list = [input_dict["image"].name]
    config = hub.RunConfig(
        use_data_parallel=args.use_data_parallel,
        use_cuda=args.use_gpu,
        num_epoch=args.num_epoch,
        batch_size=args.batch_size,
        checkpoint_dir=args.checkpoint_dir,
        strategy=hub.finetune.strategy.DefaultFinetuneStrategy(learning_rate=1e-3))
    task = hub.ImageClassifierTask(
        data_reader=data_reader,
        feed_list=feed_list,
        feature=feature_map,
        num_classes=dataset.num_labels,
        config=config)
    task.finetune_and_eval()
    return task, dataset


if __name__ == "__main__":
    args = parser.parse_args()
    if not args.module in module_map:
        hub.logger.error("module should in %s" % module_map.keys())
        exit(1)
    args.module = module_map[args.module]
    task, dataset = finetune(args)
    data = [dataset.base_path + "/" + line.split()[0]
            for line in open(dataset.base_path + "/test_list.txt").read().splitlines()[:4]]
    results = task.predict(data=data, return_result=True)
    print(results)
'''


def test_image_classification_then_predict(run_script, tmp_path):
    ns, out = run_script("img_classifier.py", IMAGE_CLS, "--use_gpu", "False", "--num_epoch", "2",
                         "--checkpoint_dir", str(tmp_path / "ckpt"))
    labels = ns["dataset"].get_labels()
    raw = np.vstack([rs.run_results[0] for rs in ns["task"].predict(data=ns["data"])])
    assert len(ns["results"]) == 4 and ns["results"] == [labels[i] for i in raw.argmax(axis=1)]
    assert set(ns["task"].last_result("test")) == {"loss", "acc"}


AUTOFINETUNE = COMMON_ARGS.replace('parser.add_argument("--network"', 'parser.add_argument("--model_path", type=str, '
                                   'default="", help="load model path")\nparser.add_argument("--network"') + '''
from hubtrain.common.logger import logger

if __name__ == '__main__':
    module = hub.Module(name="ernie")
    inputs, outputs, program = module.context(trainable=True, max_seq_len=args.max_seq_len)
    dataset = hub.dataset.ChnSentiCorp()
    metrics_choices = ["acc"]
    reader = hub.reader.ClassifyReader(
        dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=args.max_seq_len)
    pooled_output = outputs["pooled_output"]
    feed_list = [inputs["input_ids"].name, inputs["position_ids"].name,
                 inputs["segment_ids"].name, inputs["input_mask"].name]
    strategy = hub.AdamWeightDecayStrategy(
        warmup_proportion=args.warmup_proportion, learning_rate=args.learning_rate,
        weight_decay=args.weight_decay, lr_scheduler="linear_decay")
    config = hub.RunConfig(
        checkpoint_dir=args.checkpoint_dir, use_cuda=args.use_gpu, num_epoch=args.num_epoch,
        batch_size=args.batch_size, enable_memory_optim=True, strategy=strategy)
    cls_task = hub.TextClassifierTask(
        data_reader=reader, feature=pooled_output, feed_list=feed_list, num_classes=dataset.num_labels,
        config=config, metrics_choices=metrics_choices)
    if args.model_path != "":
        with cls_task.phase_guard(phase="train"):
            cls_task.init_if_necessary()
            cls_task.load_parameters(args.model_path)
            logger.info("PaddleHub has loaded model from %s" % args.model_path)
    cls_task.finetune()
    run_states = cls_task.eval()
    eval_avg_score, eval_avg_loss, eval_run_speed = cls_task._calculate_metrics(run_states)
    hub.report_final_result(eval_avg_score["acc"])
'''


def test_autofinetune_trial_reports_its_score(run_script, tmp_path, monkeypatch):
    first = str(tmp_path / "first")
    run_script("text_cls.py", TEXT_CLS, *ARGS, "--num_epoch", "6", "--learning_rate", "2e-3", "--checkpoint_dir", first)
    tuner_home = tmp_path / "paddlehub_home"
    tuner_home.mkdir()
    monkeypatch.setenv("HUB_HOME", str(tuner_home))
    monkeypatch.setenv("PaddleHub_AutoDL_Trial_ID", "7")
    ns, _ = run_script("autofinetune_text_cls.py", AUTOFINETUNE, *ARGS, "--num_epoch", "1", "--learning_rate", "1e-6",
                       "--checkpoint_dir", str(tmp_path / "trial"), "--model_path", os.path.join(first, "best_model"))
    score = ns["eval_avg_score"]["acc"]
    assert score >= 0.8          # the loaded best model, barely moved by one epoch at 1e-6
    assert abs(score - ns["cls_task"].last_result("dev")["acc"]) < 1e-9
    reported = (tuner_home / ".paddlehub" / "tmp" / "tmp.txt").read_text().split()
    assert reported[0] == "7" and abs(float(reported[1]) - score) < 1e-6
