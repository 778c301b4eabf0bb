"""A workspace for run-file tests: a tiny sentiment dataset as TSV files and a run file over a
copy of the tiny BERT module directory, all inside the workspace (the run file's folder)."""
import os
import shutil

from tiny_text import sentiment_rows

# A run file on the offline BBC News set; %s takes more runner entries or keys of the first.
BBC_RUN = """\
module: {name: all-minilm-l6-v2}
dataset: {class: BBCNews, few_shot: 5}
task: {class: TextClassifierTask, max_seq_len: 64}
strategy: {class: AdamWeightDecayStrategy, learning_rate: 5e-5}
runner:
  - name: train
    class: train
    epochs: 1
    checkpoint_dir: "{workspace}/ckpt"
%s
"""

RUN_FILE = """\
module: {{directory: "{{workspace}}/module"}}
dataset: {{class: BaseNLPDataset, base_path: "{{workspace}}/data", train_file: train.tsv, dev_file: dev.tsv,
           test_file: test.tsv, label_list: ["0", "1"]}}
task: {{class: TextClassifierTask, feature: pooled_output, max_seq_len: 32}}
strategy: {{class: AdamWeightDecayStrategy, learning_rate: 5e-3, warmup_proportion: 0.0}}
runner:
{entries}
"""

TRAIN_ENTRY = """\
  - name: train
    class: train
    epochs: 2
    batch_size: 16
    device: cpu
    checkpoint_dir: "{workspace}/ckpt"
    print_interval: 2
    eval_interval: 4
"""


def write_data(workspace, sizes=(64, 24, 24)):
    data = os.path.join(workspace, "data")
    os.makedirs(data, exist_ok=True)
    for name, n, seed in zip(("train.tsv", "dev.tsv", "test.tsv"), sizes, (0, 1, 2)):
        with open(os.path.join(data, name), "w", encoding="utf-8") as f:
            f.writelines(f"{text}\t{label}\n" for text, label in sentiment_rows(n, seed))
    return data


def write_run_file(workspace, module_dir, entries=TRAIN_ENTRY, name="run.yaml"):
    """The run file (entries: YAML lines of the runner list) in `workspace`, with its data and a
    copy of the module directory `module_dir` (a run file names only paths inside its folder)."""
    os.makedirs(workspace, exist_ok=True)
    if not os.path.isdir(os.path.join(workspace, "data")):
        write_data(workspace)
    if not os.path.isdir(os.path.join(workspace, "module")):
        shutil.copytree(module_dir, os.path.join(workspace, "module"))
    path = os.path.join(workspace, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(RUN_FILE.format(entries=entries.rstrip("\n")))
    return path


def write_file(workspace, name, text):
    os.makedirs(workspace, exist_ok=True)
    path = os.path.join(workspace, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
