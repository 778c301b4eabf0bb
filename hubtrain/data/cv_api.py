"""The image-data names users reach as `hub.dataset.*` and `hub.reader.*`."""
from .builtin_cv import MNIST, DogCat, Digits, DogCatDataset, FashionMNIST, Flowers, Food101, Indoor67, StanfordDogs
from .cv import BaseCVDataset
from .image_reader import ImageClassificationReader

__all__ = ["BaseCVDataset", "FashionMNIST", "Digits", "MNIST", "DogCat", "DogCatDataset", "Food101", "Indoor67",
           "Flowers", "StanfordDogs", "ImageClassificationReader"]

# For wiring: which names belong in hub.dataset and which in hub.reader.
DATASET_NAMES = [name for name in __all__ if name != "ImageClassificationReader"]
READER_NAMES = ["ImageClassificationReader"]
