"""Image classification: a zoo module fine-tuned on a dataset, PaddleHub's way.

    python examples/image_classification.py                          # MobileNetV2 (ImageNet) on Fashion-MNIST
    python examples/image_classification.py --image-size 224         # the module's own input size (slow on a CPU)
    python examples/image_classification.py --module-dir DIR         # a module directory (hubtrain_module.json)

Fashion-MNIST's 28x28 grayscale images are made RGB and resized to --image-size. The module's
ImageNet mean/std are kept at any size. 224 px is what the weights were trained at, but on a
2-core CPU MobileNetV2 trains at about 6 images/s there against about 18 at 96 px, so a smaller
size and a train subset (--max-train) give a good figure within minutes (see examples/README.md).
"""
import argparse
import math
import time

import numpy as np
import paddle
from paddle.static import InputSpec

import hubtrain as hub


class TrainingSpeed(paddle.callbacks.Callback):
    """Training images/s over the training steps alone: each epoch counts from its start to its last
    batch's end, so the dev evaluation run at the end of an epoch is left out."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0
        self._start = self._last_end = None

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._close_epoch()
        self._start = time.perf_counter()

    def on_train_batch_end(self, step, logs=None) -> None:
        self._last_end = time.perf_counter()

    def on_train_end(self, logs=None) -> None:
        self._close_epoch()

    def _close_epoch(self) -> None:
        if self._start is not None and self._last_end is not None:
            self.seconds += self._last_end - self._start
        self._start = self._last_end = None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", default="mobilenet_v2_imagenet", help="a zoo name (hub.zoo.list())")
    parser.add_argument("--module-dir", default=None, help="a module directory, in place of --module")
    parser.add_argument("--image-size", type=int, default=96,
                        help="side in pixels the images are resized to; 0: the module's expected size")
    parser.add_argument("--max-train", type=int, default=8000, help="train images (a stratified subset); 0: all")
    parser.add_argument("--dev-size", type=int, default=1000, help="images held out of train for dev")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--augment", action="store_true", help="random resized crop + flip on train images")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--checkpoint-dir", default="runs/image_classification")
    args = parser.parse_args()
    started = time.perf_counter()

    module = hub.Module(directory=args.module_dir) if args.module_dir else hub.Module(name=args.module)
    dataset = hub.dataset.FashionMNIST(dev_size=args.dev_size, max_train=args.max_train or None)
    width = args.image_size or module.get_expected_image_width()
    height = args.image_size or module.get_expected_image_height()
    reader = hub.reader.ImageClassificationReader(
        image_width=width, image_height=height, images_mean=module.get_pretrained_images_mean(),
        images_std=module.get_pretrained_images_std(), data_augmentation=args.augment, dataset=dataset)

    steps_per_epoch = math.ceil(len(dataset.get_train_examples()) / args.batch_size)
    strategy = hub.AdamWeightDecayStrategy(learning_rate=args.learning_rate, weight_decay=0.01,
                                           warmup_proportion=0.1, lr_scheduler="linear_decay")
    config = hub.RunConfig(num_epoch=args.epochs, batch_size=args.batch_size, strategy=strategy, log_interval=20,
                           eval_interval=steps_per_epoch, num_workers=args.num_workers,
                           checkpoint_dir=args.checkpoint_dir, seed=42)
    input_dict, output_dict, program = module.context(trainable=True)
    task = hub.ImageClassifierTask(data_reader=reader, feature=output_dict["feature_map"],
                                   num_classes=dataset.num_labels, config=config,
                                   inputs=[InputSpec([None, 3, height, width], "float32", "image")])
    speed = TrainingSpeed()
    run_states = task.finetune_and_eval(callbacks=[speed])

    test = dataset.get_test_examples()[:8]
    predicted = task.predict(data=[[example.image] for example in test])
    probabilities = np.concatenate([rs.run_results[0] for rs in predicted])
    labels = dataset.get_labels()
    for example, p in zip(test, probabilities):
        print(f"  predicted {labels[int(np.argmax(p))]:>11} ({float(np.max(p)):.2f})   true {labels[example.label]}")

    images = sum(rs.run_examples for rs in run_states)
    training = (f"training {images / speed.seconds:.1f} images/s ({images} images in {speed.seconds / 60:.1f} min)"
                if speed.seconds > 0 else f"no steps left to train in {args.checkpoint_dir}")
    print(f"{module.name} fine-tuned on Fashion-MNIST at {width}x{height}: best dev acc "
          f"{task.train_state.best_score:.4f}, test acc {task.last_result('test')['acc']:.4f} "
          f"({len(dataset.get_train_examples())} train / {len(dataset.get_dev_examples())} dev / "
          f"{len(dataset.get_test_examples())} test images); {training}, whole script "
          f"{(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
