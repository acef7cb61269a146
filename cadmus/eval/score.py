"""VM verification of samples: :func:`cadmus.judge.score_samples`, re-exported here.

Every sample of a run is judged in one batched ``cadmus.run_batch`` by :mod:`cadmus.judge`,
which documents what an answer is for each suite and what a verdict holds: ``passed`` (the
headline: visible and hidden tests), ``passed_visible`` (synthesis/repair), ``status`` and a
greppable ``reason`` (also the repair loop's feedback).
"""
from ..judge import MAX_ANSWER_CHARS, Rejected, read_answer, score_samples

__all__ = ["MAX_ANSWER_CHARS", "Rejected", "read_answer", "score_samples"]
