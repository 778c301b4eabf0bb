"""The text-data names users reach as `hub.dataset.*` and `hub.reader.*`."""
from .builtin_hub import (BQ, CMRC2018, DRCD, GLUE, INews, IFLYTEK, LCQMC, MSRA_NER, NLPCC_DBQA, NLPCC_DPQA, SQUAD,
                          THUCNEWS, XNLI, ChnSentiCorp, TNews, Toxic)
from .builtin_text import BBCNews, BBCNewsMultiLabel, SnowNLPSentiment
from .nlp import BaseNLPDataset, MultiLabelDataset, RegressionDataset, SequenceLabelDataset
from .rc_reader import ReadingComprehensionReader
from .squad import SquadDataset
from .text_readers import ClassifyReader, MultiLabelClassifyReader, RegressionReader, SequenceLabelReader
from .word_reader import LACClassifyReader

DATASET_NAMES = ["BaseNLPDataset", "MultiLabelDataset", "RegressionDataset", "SequenceLabelDataset", "SquadDataset",
                 "BBCNews", "BBCNewsMultiLabel", "SnowNLPSentiment",
                 "ChnSentiCorp", "LCQMC", "NLPCC_DPQA", "NLPCC_DBQA", "MSRA_NER", "Toxic", "SQUAD", "GLUE", "XNLI",
                 "TNews", "INews", "DRCD", "CMRC2018", "BQ", "IFLYTEK", "THUCNEWS"]
READER_NAMES = ["ClassifyReader", "SequenceLabelReader", "MultiLabelClassifyReader", "RegressionReader",
                "ReadingComprehensionReader", "LACClassifyReader"]

__all__ = DATASET_NAMES + READER_NAMES
