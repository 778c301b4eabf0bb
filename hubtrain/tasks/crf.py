"""A linear-chain CRF over per-token tag scores: its negative log-likelihood for training and
Viterbi decoding for prediction, both batched and masked by each sequence's length.

Written in paddle tensor ops, vectorised over the batch and the tags; the only Python loop is
over time steps, which a chain cannot avoid. Positions at or past a sequence's length change
nothing: the forward variables and Viterbi scores are carried through them unchanged."""
from __future__ import annotations

import paddle
import paddle.nn as nn

__all__ = ["LinearChainCRF"]


class LinearChainCRF(nn.Layer):
    """Scores a tag path y of length L as
    start[y_0] + sum_t emissions[t, y_t] + sum_t transitions[y_{t-1}, y_t] + end[y_{L-1}].

    emissions: [N, T, C] float; tags: [N, T] int64; seq_len: [N] int64 (real positions per row;
    values below 1 count as 1, values above T as T)."""

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"LinearChainCRF: num_tags={num_tags} should be at least 1.")
        self.num_tags = num_tags
        init = nn.initializer.Uniform(-0.1, 0.1)
        self.transitions = self.create_parameter([num_tags, num_tags], default_initializer=init)
        self.start_transitions = self.create_parameter([num_tags], default_initializer=init)
        self.end_transitions = self.create_parameter([num_tags], default_initializer=init)

    @staticmethod
    def _lengths(seq_len: paddle.Tensor, steps: int) -> paddle.Tensor:
        return seq_len.reshape([-1]).astype("int64").clip(min=1, max=steps)

    def log_partition(self, emissions: paddle.Tensor, seq_len: paddle.Tensor) -> paddle.Tensor:
        """log Z per sequence, [N]: log-sum-exp of the scores of every tag path (forward algorithm)."""
        steps = emissions.shape[1]
        lengths = self._lengths(seq_len, steps)
        alpha = self.start_transitions.unsqueeze(0) + emissions[:, 0]
        trans = self.transitions.unsqueeze(0)
        # No name is bound only inside the time loops: paddle.jit turns every name a loop binds
        # into a loop variable, and one first bound inside the loop has no type before it.
        for t in range(1, steps):
            alpha = paddle.where((lengths > t).unsqueeze(1),
                                 paddle.logsumexp(alpha.unsqueeze(2) + trans, axis=1) + emissions[:, t], alpha)
        return paddle.logsumexp(alpha + self.end_transitions.unsqueeze(0), axis=1)

    def path_score(self, emissions: paddle.Tensor, tags: paddle.Tensor, seq_len: paddle.Tensor) -> paddle.Tensor:
        """The score of the given tag paths, [N]."""
        steps = emissions.shape[1]
        lengths = self._lengths(seq_len, steps)
        tags = tags.astype("int64")
        mask = (paddle.arange(steps, dtype="int64").unsqueeze(0) < lengths.unsqueeze(1)).astype(emissions.dtype)
        emitted = paddle.take_along_axis(emissions, tags.unsqueeze(2), axis=2).squeeze(2)
        score = (emitted * mask).sum(axis=1)
        score = score + paddle.gather(self.start_transitions, tags[:, 0])
        pairs = tags[:, :-1] * self.num_tags + tags[:, 1:]  # [N, T-1]: empty for T = 1
        moved = paddle.gather(self.transitions.reshape([-1]), pairs.reshape([-1])).reshape(pairs.shape)
        score = score + (moved * mask[:, 1:]).sum(axis=1)
        last = paddle.take_along_axis(tags, (lengths - 1).unsqueeze(1), axis=1).squeeze(1)
        return score + paddle.gather(self.end_transitions, last)

    def nll(self, emissions: paddle.Tensor, tags: paddle.Tensor, seq_len: paddle.Tensor) -> paddle.Tensor:
        """Negative log-likelihood of the gold paths, [N]."""
        return self.log_partition(emissions, seq_len) - self.path_score(emissions, tags, seq_len)

    def viterbi(self, emissions: paddle.Tensor, seq_len: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        """The best path per sequence and its score: ([N, T] int64, [N]). Past a sequence's
        length the path repeats its last real tag."""
        steps = emissions.shape[1]
        lengths = self._lengths(seq_len, steps)
        score = self.start_transitions.unsqueeze(0) + emissions[:, 0]
        trans = self.transitions.unsqueeze(0)
        stay = paddle.zeros_like(score, dtype="int64") + paddle.arange(self.num_tags, dtype="int64").unsqueeze(0)
        # pointers[:, t, j]: the best tag at t-1 given tag j at t. Written in place rather than
        # collected in a list, so paddle.jit can trace the loops over a dynamic length.
        pointers = paddle.zeros_like(emissions, dtype="int64")
        candidates = score.unsqueeze(2) + trans
        live = (lengths > 0).unsqueeze(1)
        for t in range(1, steps):
            candidates = score.unsqueeze(2) + trans  # [N, from, to]
            live = (lengths > t).unsqueeze(1)
            score = paddle.where(live, candidates.max(axis=1) + emissions[:, t], score)
            pointers[:, t] = paddle.where(live, candidates.argmax(axis=1), stay)
        score = score + self.end_transitions.unsqueeze(0)
        best = score.max(axis=1)
        tag = score.argmax(axis=1)
        path = paddle.zeros_like(emissions[:, :, 0], dtype="int64")
        path[:, steps - 1] = tag
        for t in range(steps - 1, 0, -1):
            tag = paddle.take_along_axis(pointers[:, t], tag.unsqueeze(1), axis=1).squeeze(1)
            path[:, t - 1] = tag
        return path, best
