"""Image data: list-file datasets, the image reader, OpenCV transforms, built-in image sets."""
import os
import time

import cv2
import numpy as np
import paddle
import pytest
from sklearn.datasets import load_sample_image

import hubtrain as hub
from hubtrain.data import cv_api
from hubtrain.data import transforms as T
from hubtrain.data.base import DatasetMissingError
from hubtrain.data.builtin_cv import (BUILTIN_CV_DATASETS, FASHION_MNIST_DIR, MNIST, Digits, DogCatDataset,
                                      FashionMNIST, Flowers, mnist_pickle_path, read_idx,
                                      stratified_take)
from hubtrain.data.cv import BaseCVDataset, ListFileError
from hubtrain.data.example import LabelError
from hubtrain.data.image_io import ImageReadError, jpeg_is_complete, read_image
from hubtrain.data.image_reader import ImageClassificationReader

MEAN, STD = np.array(T.IMAGENET_MEAN, np.float32), np.array(T.IMAGENET_STD, np.float32)


# ---------------------------------------------------------------- real images on disk
def _write(path, rgb):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), rgb[:, :, ::-1] if rgb.ndim == 3 else rgb)
    return path


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """Crops of scikit-learn's two sample photos: class 0 'china', class 1 'flower'."""
    root = tmp_path_factory.mktemp("photos")
    lines = []
    for label, name in enumerate(("china", "flower")):
        photo = load_sample_image(f"{name}.jpg")
        for i in range(4):
            crop = photo[40 * i:40 * i + 96, 60 * i:60 * i + 128]
            ext = "jpg" if i % 2 == 0 else "png"
            _write(os.path.join(root, name, f"{i}.{ext}"), crop)
            lines.append(f"{name}/{i}.{ext} {label}")
    (root / "label_list.txt").write_text("china\nflower\n")
    (root / "train_list.txt").write_text("\n".join(lines[0:3] + lines[4:7]) + "\n")
    (root / "validate_list.txt").write_text(f"{lines[3]}\n\n{lines[7]}\n")  # a blank line is skipped
    (root / "test_list.txt").write_text(f"china/3.png\t0\n{lines[7].split()[0]}   flower\n")  # tab; a name
    (root / "predict_list.txt").write_text("china/0.jpg\nflower/1.png\n")
    return root


class DemoDataset(BaseCVDataset):
    """The seed's custom dataset, verbatim apart from the directory."""

    def __init__(self, dataset_dir):
        self.dataset_dir = str(dataset_dir)
        super(DemoDataset, self).__init__(
            base_path=self.dataset_dir,
            train_list_file="train_list.txt",
            validate_list_file="validate_list.txt",
            test_list_file="test_list.txt",
            predict_file="predict_list.txt",
            label_list_file="label_list.txt",
        )


def test_list_file_dataset_reads_paths_and_class_indices(photo_dir):
    ds = DemoDataset(photo_dir)
    assert (len(ds.get_train_examples()), len(ds.get_dev_examples()), len(ds.get_test_examples())) == (6, 2, 2)
    assert ds.get_labels() == ["china", "flower"] and ds.num_labels == 2
    first = ds.get_train_examples()[0]
    assert first.image == os.path.join(str(photo_dir), "china", "0.jpg") and first.label == 0
    assert first.source == f"{os.path.join(str(photo_dir), 'train_list.txt')}:1"
    assert [e.label for e in ds.get_dev_examples()] == [0, 1]
    assert ds.get_dev_examples()[1].source.endswith("validate_list.txt:3")
    assert [e.label for e in ds.get_test_examples()] == [0, 1]          # tab separator, a class name
    predict = ds.get_predict_examples()
    assert [os.path.basename(e.image) for e in predict] == ["0.jpg", "1.png"] and predict[0].label is None


def test_paths_with_spaces_labels_as_names_and_inline_label_list(tmp_path):
    _write(str(tmp_path / "my pics" / "a b.png"), np.full((8, 8, 3), 9, np.uint8))
    (tmp_path / "train.txt").write_text("my pics/a b.png 1\nmy pics/a b.png cat\n")
    ds = BaseCVDataset(base_path=str(tmp_path), train_list_file="train.txt", label_list=["dog", "cat"])
    assert [e.label for e in ds.get_train_examples()] == [1, 1]
    # no base_path: paths are relative to the list file's folder; predict_list_file is PaddleHub's name
    (tmp_path / "predict.txt").write_text("my pics/a b.png 0\n")  # a labelled list used for predict
    ds = BaseCVDataset(predict_list_file=str(tmp_path / "predict.txt"))
    assert ds.get_predict_examples()[0].image == str(tmp_path / "my pics" / "a b.png")


@pytest.mark.parametrize("content, error, words", [
    ("a.png 0\nmissing/b.png 1\n", FileNotFoundError, ["train.txt:2", os.path.join("missing", "b.png")]),
    ("a.png 0\na.png\n", ListFileError, ["train.txt:2", "no label"]),
    ("a.png 0\na.png 2\n", LabelError, ["train.txt:2", "out of range", "0..1"]),
    ("a.png -1\n", LabelError, ["train.txt:1", "out of range"]),
    ("a.png horse\n", LabelError, ["train.txt:1", "'horse'", "'cat'"]),
    ("\n\n", ListFileError, ["train.txt", "empty"]),
])
def test_bad_list_lines_name_file_and_line(tmp_path, content, error, words):
    _write(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "train.txt").write_text(content)
    with pytest.raises(error) as info:
        BaseCVDataset(base_path=str(tmp_path), train_list_file="train.txt", label_list=["cat", "dog"])
    for word in words:
        assert word in str(info.value)


def test_label_list_problems(tmp_path):
    _write(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "train.txt").write_text("a.png 0\n")
    with pytest.raises(ValueError, match="label_list_file"):
        BaseCVDataset(base_path=str(tmp_path), train_list_file="train.txt")
    with pytest.raises(DatasetMissingError, match="labels.txt"):
        BaseCVDataset(base_path=str(tmp_path), train_list_file="train.txt", label_list_file="labels.txt")
    (tmp_path / "labels.txt").write_text("\n")
    with pytest.raises(ValueError, match="label file is empty"):
        BaseCVDataset(base_path=str(tmp_path), train_list_file="train.txt", label_list_file="labels.txt")
    with pytest.raises(LabelError, match="ambiguous"):  # index 0 is "1", but "0" names class 1
        BaseCVDataset(base_path=str(tmp_path), train_list_file="train.txt", label_list=["1", "0"])
    (tmp_path / "train.txt").write_text("a.png 7\n")  # not an index of 2 classes, but a name
    ds = BaseCVDataset(base_path=str(tmp_path), train_list_file="train.txt", label_list=["5", "7"])
    assert ds.get_train_examples()[0].label == 1


# ---------------------------------------------------------------- decoding and bad image files
def test_truncated_garbage_and_empty_images_are_named_with_their_list_line(tmp_path):
    photo = load_sample_image("china.jpg")
    ok, buf = cv2.imencode(".jpg", photo[:, :, ::-1])
    data = buf.tobytes()
    assert jpeg_is_complete(data) and not jpeg_is_complete(data[: len(data) // 2])
    (tmp_path / "good.jpg").write_bytes(data)
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.jpg").write_bytes(b"this is not an image at all")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "train.txt").write_text("good.jpg 0\ncut.jpg 0\njunk.jpg 1\nempty.png 1\n")
    ds = BaseCVDataset(base_path=str(tmp_path), train_list_file="train.txt", label_list=["a", "b"])
    data_set = ImageClassificationReader(32, 32, dataset=ds).get_dataset("train")
    assert data_set[0][0].shape == (3, 32, 32)
    for index, (name, words) in enumerate([("cut.jpg", "truncated"), ("junk.jpg", "cannot decode"),
                                           ("empty.png", "empty")], start=1):
        with pytest.raises(ImageReadError) as info:
            data_set[index]
        message = str(info.value)
        assert str(tmp_path / name) in message and f"train.txt:{index + 1}" in message and words in message
    os.remove(tmp_path / "good.jpg")  # deleted after the list was read
    with pytest.raises(ImageReadError, match="train.txt:1.*not found"):
        data_set[0]


def test_grayscale_files_and_arrays_become_three_channels(tmp_path):
    gray = np.tile(np.arange(0, 240, 15, dtype=np.uint8), (16, 1))
    _write(str(tmp_path / "g.png"), gray)
    rgb = read_image(str(tmp_path / "g.png"))
    assert rgb.shape == (16, 16, 3) and np.array_equal(rgb[:, :, 0], gray) and np.array_equal(rgb[:, :, 2], gray)
    reader = ImageClassificationReader(16, 16, images_mean=[0, 0, 0], images_std=[1, 1, 1])
    (out,) = reader.examples_dataset([gray[:, :, None]])[0]
    assert out.shape == (3, 16, 16)
    np.testing.assert_allclose(out[1], gray / 255.0, atol=1e-6)
    with pytest.raises(ValueError, match="0-1"):
        reader.examples_dataset([gray.astype(np.float32)])[0]   # floats must be 0-1


# ---------------------------------------------------------------- the reader
def test_reader_output_shape_dtype_and_normalisation(tmp_path):
    _write(str(tmp_path / "solid.png"), np.full((20, 30, 3), (200, 100, 50), np.uint8))
    (tmp_path / "train.txt").write_text("solid.png 1\n")
    ds = BaseCVDataset(base_path=str(tmp_path), train_list_file="train.txt", label_list=["x", "y"])
    image, label = ImageClassificationReader(image_width=12, image_height=10, dataset=ds).get_dataset("train")[0]
    assert image.shape == (3, 10, 12) and image.dtype == np.float32
    assert label.dtype == np.int64 and label.shape == (1,) and label[0] == 1
    expected = (np.array([200, 100, 50]) / 255.0 - MEAN) / STD          # about [1.018, -0.283, -1.022]
    np.testing.assert_allclose(image.reshape(3, -1).mean(axis=1), expected, atol=1e-5)
    np.testing.assert_allclose(image.std(axis=(1, 2)), 0, atol=1e-5)
    bgr, _ = ImageClassificationReader(12, 10, dataset=ds, channel_order="BGR").get_dataset("train")[0]
    np.testing.assert_allclose(bgr, image[::-1], atol=1e-6)
    raw, _ = ImageClassificationReader(12, 10, dataset=ds, images_mean=[0, 0, 0],
                                       images_std=[1, 1, 1]).get_dataset("train")[0]
    np.testing.assert_allclose(raw[:, 0, 0], [200 / 255, 100 / 255, 50 / 255], atol=1e-6)
    with pytest.raises(ValueError, match="channel_order"):
        ImageClassificationReader(12, 10, channel_order="RGBA")
    with pytest.raises(ValueError, match="image_width"):
        ImageClassificationReader(0, 10)


def test_reader_predict_items_and_batches(photo_dir):
    reader = ImageClassificationReader(40, 32, dataset=DemoDataset(photo_dir))
    path = str(photo_dir / "china" / "0.jpg")
    items = reader.examples_dataset([path, [path], load_sample_image("flower.jpg")[:50, :60]])
    outs = [items[i] for i in range(len(items))]
    assert all(len(o) == 1 and o[0].shape == (3, 32, 40) for o in outs)
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    batch = reader.collate_fn([reader.get_dataset("train")[i] for i in range(4)])
    assert batch[0].shape == (4, 3, 32, 40) and batch[1].shape == (4, 1) and batch[1].dtype == np.int64
    with pytest.raises(ImageReadError, match=r"predict data\[0\]"):
        reader.examples_dataset([str(photo_dir / "nope.jpg")])[0]
    with pytest.raises(TypeError, match=r"predict data\[0\]"):
        reader.examples_dataset([3.5])


def test_augmentation_changes_pixels_keeps_shape_and_spares_eval(photo_dir):
    reader = ImageClassificationReader(48, 40, dataset=DemoDataset(photo_dir), data_augmentation=True)
    train = reader.get_dataset("train")
    draws = [train[0][0] for _ in range(6)]
    assert all(d.shape == (3, 40, 48) and d.dtype == np.float32 for d in draws)
    assert any(not np.allclose(draws[0], d) for d in draws[1:])
    dev = reader.get_dataset("dev")
    np.testing.assert_array_equal(dev[0][0], dev[0][0])


def _loader_images(dataset, workers, collate=None):
    loader = paddle.io.DataLoader(dataset, batch_size=1, shuffle=False, num_workers=workers,
                                  collate_fn=collate, return_list=True)
    return [np.asarray(batch[0]) for batch in loader]


def test_dataloader_workers_match_single_process_without_augmentation(photo_dir):
    reader = ImageClassificationReader(32, 32, dataset=DemoDataset(photo_dir))
    data = reader.get_dataset("train")
    single = _loader_images(data, 0, reader.collate_fn)
    double = _loader_images(data, 2, reader.collate_fn)
    assert len(single) == len(double) == 6
    for a, b in zip(single, double):
        np.testing.assert_array_equal(a, b)


class _Repeated(paddle.io.Dataset):
    """The same image `n` times through one transform."""

    def __init__(self, image, transform, n=8):
        super().__init__()
        self.image, self.transform, self.n = image, transform, n

    def __getitem__(self, index):
        info = paddle.io.get_worker_info()
        return self.transform(self.image), np.array([-1 if info is None else info.id])

    def __len__(self):
        return self.n


@pytest.mark.parametrize("rng", [None, np.random.default_rng(0)], ids=["seeded-per-call", "given-generator"])
def test_augmentation_differs_across_workers(rng):
    image = np.ascontiguousarray(load_sample_image("flower.jpg")[::4, ::4])
    loader = paddle.io.DataLoader(_Repeated(image, T.RandomCrop(64, 48, rng=rng)), batch_size=1, num_workers=2)
    batches = [(np.asarray(x[0]), int(w[0, 0])) for x, w in loader]
    assert [w for _, w in batches] == [0, 1] * 4                      # batches alternate between workers
    out = [x for x, _ in batches]
    first, second = np.stack(out[0::2]), np.stack(out[1::2])
    assert first.shape == second.shape == (4, 48, 64, 3)
    assert not np.array_equal(first, second)
    assert len({a.tobytes() for a in out}) > 4


# ---------------------------------------------------------------- transforms
def test_transforms_geometry_and_values():
    img = load_sample_image("china.jpg")[:60, :80]                      # H 60, W 80
    assert T.Resize(40, 30)(img).shape == (30, 40, 3)
    assert T.Resize(16)(img[:, :, :1]).shape == (16, 16, 1)
    assert T.ResizeShorter(30)(img).shape == (30, 40, 3)
    np.testing.assert_array_equal(T.CenterCrop(20, 10)(img), img[25:35, 30:50])
    assert T.RandomCrop(20, 10)(img).shape == (10, 20, 3)
    with pytest.raises(ValueError, match="larger than the image"):
        T.CenterCrop(100)(img)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(img), img[:, ::-1])
    np.testing.assert_array_equal(T.RandomRotation(0)(img), img)
    assert T.RandomRotation(10)(img).shape == img.shape
    assert T.RandomResizedCrop(32, 24)(img).shape == (24, 32, 3)
    jittered = T.ColorJitter(0.5, 0.5, rng=np.random.default_rng(3))(img)
    assert jittered.dtype == np.uint8 and jittered.shape == img.shape and not np.array_equal(jittered, img)
    unit = T.ColorJitter(0.9, 0.9)(img.astype(np.float32) / 255)
    assert unit.dtype == np.float32 and unit.min() >= 0 and unit.max() <= 1
    chw = T.Compose([T.Normalize(), T.ToCHW()])(img)
    assert chw.shape == (3, 60, 80) and chw.dtype == np.float32 and chw.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(chw[:, 0, 0], (img[0, 0] / 255.0 - MEAN) / STD, rtol=1e-5)


def test_random_transforms_repeat_with_a_given_generator():
    img = load_sample_image("flower.jpg")[:64, :64]
    pipeline = T.Compose([T.RandomResizedCrop(32), T.RandomHorizontalFlip(), T.RandomRotation(15), T.ColorJitter()])
    a = pipeline(img, np.random.default_rng(7))
    b = pipeline(img, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    np.random.seed(11)
    c = pipeline(img)
    np.random.seed(11)
    np.testing.assert_array_equal(c, pipeline(img))                   # per-call seeds follow np.random


# ---------------------------------------------------------------- built-in image sets
@pytest.mark.skipif(not os.path.isfile(os.path.join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")),
                    reason=f"Fashion-MNIST not installed in {FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_loads_all_images_with_balanced_classes():
    ds = FashionMNIST(dev_size=5000)
    assert (len(ds.get_train_examples()), len(ds.get_dev_examples()), len(ds.get_test_examples())) == (55000, 5000, 10000)
    train_and_dev = np.concatenate([ds.labels["train"], ds.labels["dev"]])
    assert np.bincount(train_and_dev).tolist() == [6000] * 10
    assert np.bincount(ds.labels["dev"]).tolist() == [500] * 10
    assert np.bincount(ds.labels["test"]).tolist() == [1000] * 10
    assert ds.get_labels()[0] == "T-shirt/top" and ds.get_labels()[9] == "Ankle boot"
    example = ds.get_test_examples()[0]
    assert example.image.shape == (28, 28) and example.image.dtype == np.uint8 and example.label == 9
    small = FashionMNIST(dev_size=0, max_train=1000)
    assert not small.has_split("dev") and np.bincount(small.labels["train"]).tolist() == [100] * 10


def test_fashion_mnist_missing_or_damaged_files(tmp_path):
    with pytest.raises(DatasetMissingError) as info:
        FashionMNIST(data_dir=str(tmp_path))
    assert "apt-get install dataset-fashion-mnist" in str(info.value) and str(tmp_path) in str(info.value)
    import gzip
    header = b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    with gzip.open(tmp_path / "cut-idx3-ubyte.gz", "wb") as f:
        f.write(header + bytes(28 * 28 * 4))                            # 4 images of 5 declared
    with pytest.raises(ValueError, match="cut-idx3-ubyte.gz.*truncated"):
        read_idx(str(tmp_path / "cut-idx3-ubyte.gz"))


def test_digits_split_is_deterministic_and_stratified():
    a, b = Digits(), Digits()
    for phase in ("train", "dev", "test"):
        np.testing.assert_array_equal(a.images[phase], b.images[phase])
        np.testing.assert_array_equal(a.labels[phase], b.labels[phase])
    sizes = [len(a.labels[p]) for p in ("train", "dev", "test")]
    assert sum(sizes) == 1797 and sizes[1] == sizes[2] == 270
    assert np.bincount(a.labels["test"]).min() >= 26                    # ~10% of each class
    assert a.images["train"].dtype == np.uint8 and a.images["train"].max() == 255
    assert not np.array_equal(Digits(seed=1).labels["test"], a.labels["test"])
    taken, rest = stratified_take(np.array([0] * 6 + [1] * 4), 5, np.random.default_rng(0))
    assert len(taken) == 5 and len(rest) == 5 and sorted(np.r_[taken, rest]) == list(range(10))


def test_digits_train_through_the_reader_and_a_task(tmp_path):
    ds = Digits()
    reader = ImageClassificationReader(16, 16, dataset=ds, images_mean=[0.5] * 3, images_std=[0.5] * 3)
    paddle.seed(0)
    backbone = paddle.nn.Sequential(paddle.nn.Conv2D(3, 8, 3, padding=1), paddle.nn.ReLU(),
                                    paddle.nn.MaxPool2D(2), paddle.nn.Flatten(), paddle.nn.Linear(8 * 8 * 8, 32),
                                    paddle.nn.ReLU())
    config = hub.RunConfig(num_epoch=2, batch_size=64, eval_interval=None, checkpoint_dir=str(tmp_path / "ckpt"),
                           use_cuda=False, strategy=hub.AdamWeightDecayStrategy(learning_rate=3e-3, weight_decay=0.0))
    task = hub.ImageClassifierTask(feature=backbone, num_classes=ds.num_labels, data_reader=reader, config=config)
    task.finetune_and_eval()
    assert task.last_result("test")["acc"] > 0.7
    probs = task.predict(data=[ds.images["test"][0]])[0].run_results[0]
    assert probs.shape == (1, 10)
    assert task.predict(data=[ds.images["test"][0]], return_result=True) == [ds.get_labels()[int(probs.argmax())]]


def test_mnist_pickle_splits():
    try:
        mnist_pickle_path()
    except DatasetMissingError as err:
        pytest.skip(str(err))
    ds = MNIST(max_train=2000)
    assert len(ds.get_train_examples()) == 2000 and len(ds.get_dev_examples()) == len(ds.get_test_examples()) == 10000
    image = ds.get_dev_examples()[0].image
    assert image.shape == (28, 28) and image.dtype == np.uint8 and image.max() == 255


@pytest.mark.parametrize("name", sorted(BUILTIN_CV_DATASETS))
def test_builtin_missing_dataset_is_fast_and_names_the_directory(tmp_path, monkeypatch, name):
    monkeypatch.setenv("HUBTRAIN_HOME", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(DatasetMissingError) as info:
        getattr(cv_api, name)()
    assert time.perf_counter() - start < 1.0
    folder = os.path.join(str(tmp_path), "datasets", BUILTIN_CV_DATASETS[name][0])
    assert folder in str(info.value) and "train_list.txt" in str(info.value) and "label_list.txt" in str(info.value)


def test_builtin_dataset_reads_paddlehub_layout(tmp_path, monkeypatch, photo_dir):
    monkeypatch.setenv("HUBTRAIN_HOME", str(tmp_path))
    root = tmp_path / "datasets" / "flower_photos"
    root.mkdir(parents=True)
    with pytest.raises(DatasetMissingError, match="lacks train_list.txt"):
        Flowers()
    names = ["roses", "tulips", "daisy", "sunflowers", "dandelion"]
    (root / "label_list.txt").write_text("\n".join(names) + "\n")
    photo = load_sample_image("flower.jpg")
    for split, count in (("train", 5), ("validate", 2), ("test", 2)):
        lines = []
        for i in range(count):
            rel = f"{names[i]}/{split}_{i}.jpg"
            _write(str(root / rel), photo[i * 30:i * 30 + 64, :64])
            lines.append(f"{rel} {i}")
        (root / f"{split}_list.txt").write_text("\n".join(lines) + "\n")
    ds = Flowers()
    assert ds.num_labels == 5 and len(ds.get_train_examples()) == 5 and ds.get_dev_examples()[1].label == 1
    image, label = ImageClassificationReader(32, 32, dataset=ds).get_dataset("test")[1]
    assert image.shape == (3, 32, 32) and label.tolist() == [1]
    assert isinstance(DogCatDataset(base_path=str(root)), BaseCVDataset)   # any folder in that layout
