"""Metrics as `paddle.metric.Metric`s: tensor work in `compute` (on the device), sums or kept
values in `update`, the final division or ranking in `accumulate`.

They keep counts or sufficient statistics, never averages, so a metric fed batch by batch equals
one fed all at once, and the metrics of several processes combine exactly with `merge`.

Families (`make_metrics(choices, allowed, kind=...)` picks by name within a family):
- classification: acc, f1, precision, recall, matthews - `compute(logits [N, C], label [N, 1])`
- multi_label: auc, f1, precision, recall - `compute(logits [N, L], labels [N, L] 0/1)`
- regression: pearson, spearman, mse - `compute(pred [N, 1], label [N, 1])`
- sequence_label: precision, recall, f1 over chunks - `compute(pred_ids [N, T], label_ids [N, T], seq_len [N])`
- reading_comprehension: em, f1 - `compute(predicted answers, reference answers)`; `squad_em_f1`
"""
from .base import HubMetric, metric_values
from .chunk import ChunkF1, ChunkMetric, ChunkPrecision, ChunkRecall, TagScheme, chunk_counts
from .classification import F1, Accuracy, ConfusionMetric, Matthews, Precision, Recall
from .factory import METRICS, make_metrics
from .multilabel import MultiLabelAUC, MultiLabelCounts, MultiLabelF1, MultiLabelPrecision, MultiLabelRecall
from .ranking import average_ranks, roc_auc_columns
from .regression import MeanSquaredError, Pearson, Spearman
from .squad import SquadEM, SquadF1, SquadMetric, exact_match, normalize_answer, squad_em_f1, squad_scores, token_f1

__all__ = [
    "metric_values",
    "HubMetric", "make_metrics", "METRICS",
    "Accuracy", "Precision", "Recall", "F1", "Matthews", "ConfusionMetric",
    "MultiLabelAUC", "MultiLabelPrecision", "MultiLabelRecall", "MultiLabelF1", "MultiLabelCounts",
    "Pearson", "Spearman", "MeanSquaredError",
    "TagScheme", "chunk_counts", "ChunkMetric", "ChunkPrecision", "ChunkRecall", "ChunkF1",
    "SquadMetric", "SquadEM", "SquadF1", "squad_em_f1", "squad_scores", "exact_match", "token_f1",
    "normalize_answer", "average_ranks", "roc_auc_columns",
]
