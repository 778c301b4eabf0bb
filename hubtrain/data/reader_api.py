"""Everything `hub.reader` offers: the text and image readers and their base."""
from . import cv_api, text_api
from .cv_api import *  # noqa: F401,F403  (the image readers; cv_api.READER_NAMES lists them)
from .reader_base import BaseReader
from .text_api import *  # noqa: F401,F403  (the text readers; text_api.READER_NAMES lists them)

__all__ = ["BaseReader"] + list(text_api.READER_NAMES) + list(cv_api.READER_NAMES)
