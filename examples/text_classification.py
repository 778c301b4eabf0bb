"""Text classification: a zoo module fine-tuned on a dataset, PaddleHub's way.

    python examples/text_classification.py                                  # MiniLM on BBC News
    python examples/text_classification.py --dataset-dir DIR --labels 0,1   # your train/dev/test.tsv
    python examples/text_classification.py --module-dir DIR                 # a save_pretrained directory
"""
import argparse

import numpy as np

import hubtrain as hub


def load_dataset(args):
    if args.dataset_dir is None:
        return hub.dataset.BBCNews()

    class TSVDataset(hub.dataset.BaseNLPDataset):
        def __init__(self):
            super().__init__(base_path=args.dataset_dir, train_file="train.tsv", dev_file="dev.tsv",
                             test_file="test.tsv", train_file_with_header=True, dev_file_with_header=True,
                             test_file_with_header=True, label_list=args.labels.split(","))
    return TSVDataset()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", default="all-minilm-l6-v2", help="a zoo name (hub.zoo.list())")
    parser.add_argument("--module-dir", default=None, help="a module directory, in place of --module")
    parser.add_argument("--dataset-dir", default=None, help="a folder with train.tsv, dev.tsv, test.tsv")
    parser.add_argument("--labels", default="0,1", help="the label list of --dataset-dir")
    parser.add_argument("--max-seq-len", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--checkpoint-dir", default="runs/text_classification")
    args = parser.parse_args()

    module = hub.Module(directory=args.module_dir) if args.module_dir else hub.Module(name=args.module)
    dataset = load_dataset(args)
    reader = hub.reader.ClassifyReader(dataset=dataset, vocab_path=module.get_vocab_path(),
                                       max_seq_len=args.max_seq_len)
    strategy = hub.AdamWeightDecayStrategy(learning_rate=args.learning_rate, weight_decay=0.01,
                                           warmup_proportion=0.1, lr_scheduler="linear_decay")
    config = hub.RunConfig(num_epoch=args.epochs, batch_size=args.batch_size, strategy=strategy,
                           eval_interval=50, checkpoint_dir=args.checkpoint_dir, seed=42)
    inputs, outputs, program = module.context(trainable=True, max_seq_len=args.max_seq_len)
    task = hub.TextClassifierTask(data_reader=reader, feature=outputs["pooled_output"],
                                  num_classes=dataset.num_labels, metrics_choices=["acc"], config=config)
    task.finetune_and_eval()

    examples = [example.text_a for example in dataset.get_test_examples()[:5]]
    run_states = task.predict(data=[[text] for text in examples])
    probabilities = np.concatenate([run_state.run_results[0] for run_state in run_states])
    for text, p in zip(examples, probabilities):
        print(f"{dataset.get_labels()[int(np.argmax(p))]:>14}  {text[:70]}")


if __name__ == "__main__":
    main()
