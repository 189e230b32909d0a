"""What a score is, and the one place scores are mapped: score kinds, ``normalize`` and thresholds.

Every backend declares what its ``relevance_score`` is as data, a :class:`ScoreScale` on its
``score_scale`` attribute: the kind (:data:`SCORE_KINDS`), the range (``None`` when unbounded),
what the score is exactly, the family's own documented map to 0-1 (``normalize=True`` applies
it) and the source that documents it. Where the family fixes it the declaration is per model
(an LLM format, a cross-encoder's activation read from its config, an embedding model's
similarity), otherwise per provider. docs/scores.md tables them all.

:class:`ScoreMapping` is what a :class:`~rerankit.Reranker` does with the raw scores, once, in the
core, after the merge and before sort, threshold and cut: nothing (the default: the authors' raw
score), the declared normalization (``normalize=True``) or a fitted calibration
(``calibration=...``). Either map is monotone, and results are ordered by the raw score, so the
ranking never changes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, model_validator

from rerankit._errors import ConfigurationError

if TYPE_CHECKING:  # the calibration module imports this one
    from rerankit._calibration import Calibration

logger = logging.getLogger("rerankit")

#: What a score can be. ``relevance`` is a provider's opaque 0-1 relevance.
ScoreKind = Literal["probability", "logit", "similarity", "reciprocal_rank", "relevance"]
SCORE_KINDS: tuple[str, ...] = get_args(ScoreKind)
#: A family's documented map to 0-1: ``identity`` (the score already is its 0-1 form) or ``sigmoid``.
Normalization = Literal["identity", "sigmoid"]


def sigmoid(value: float) -> float:
    """The logistic function, without overflow for large negative inputs.

    >>> sigmoid(0.0), round(sigmoid(2.0), 4), sigmoid(-1000.0)
    (0.5, 0.8808, 0.0)
    """
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


_NORMALIZERS: dict[str, Callable[[float], float]] = {"identity": float, "sigmoid": sigmoid}


class ScoreScale(BaseModel):
    """What a backend's ``relevance_score`` is: declared by each backend (its ``score_scale``).

    Attributes:
        kind: One of :data:`SCORE_KINDS`: ``"probability"`` (the model's own P(relevant)),
            ``"logit"``, ``"similarity"`` (cosine, dot, MaxSim, ...), ``"reciprocal_rank"``
            (``1 / rank`` of a listwise ranker) or ``"relevance"`` (a provider's opaque 0-1).
        range: ``(low, high)`` the score lies in; ``None`` when it is unbounded.
        description: What the score is exactly (``"sigmoid(logit('Yes') / 5)"``). A calibration
            file records it and is refused by a backend whose description differs.
        normalization: What ``normalize=True`` applies: ``"identity"`` (already 0-1 by the
            family's definition), ``"sigmoid"`` (a logit's documented map), or ``None`` when the
            family documents none (``normalize=True`` is then refused).
        source: Where the kind, range and normalization are documented.

    >>> scale = ScoreScale(kind="logit", description="a classifier's logit", normalization="sigmoid", source="...")
    >>> scale.normalized().kind, scale.normalized().range
    ('probability', (0.0, 1.0))
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ScoreKind
    range: tuple[float, float] | None = None
    description: str
    normalization: Normalization | None = None
    source: str

    @model_validator(mode="after")
    def _consistent(self) -> ScoreScale:
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range must be (low, high) with low < high, got {self.range}")
        if self.normalization == "identity" and self.range != (0.0, 1.0):
            raise ValueError("normalization 'identity' declares a score already in (0.0, 1.0)")
        if self.normalization == "sigmoid" and self.kind != "logit":
            raise ValueError(f"normalization 'sigmoid' maps a logit, not a {self.kind} score")
        return self

    def normalized(self) -> ScoreScale:
        """The scale of ``normalize=True``'s scores.

        Raises:
            ConfigurationError: The family documents no normalization for this kind.
        """
        if self.normalization is None:
            raise ConfigurationError(
                f"normalize=True: a {self.kind} score ({self.description}) has no documented "
                f"normalization to 0-1 ({self.source}); use the raw score, or fit a calibration "
                "with `rerankit calibrate` (docs/scores.md)"
            )
        if self.normalization == "identity":
            return self
        return ScoreScale(
            kind="probability",
            range=(0.0, 1.0),
            description=f"sigmoid of {self.description}",
            normalization="identity",
            source=self.source,
        )

    def normalize(self, scores: Sequence[float]) -> list[float]:
        """``scores`` mapped by :attr:`normalization` (see :meth:`normalized`)."""
        self.normalized()  # raises when there is none
        return list(map(_NORMALIZERS[self.normalization or "identity"], scores))


def score_scale_of(backend: Any) -> ScoreScale | None:
    """The :class:`ScoreScale` ``backend`` declares, or ``None`` when it declares none (a backend
    of your own may leave it out; every registered backend declares one).

    Raises:
        ConfigurationError: ``score_scale`` is set to something that is not a ScoreScale.
    """
    scale = getattr(backend, "score_scale", None)
    if scale is None or isinstance(scale, ScoreScale):
        return scale
    raise ConfigurationError(
        f"backend {getattr(backend, 'name', type(backend).__name__)!r} declares score_scale "
        f"{scale!r}; it must be a rerankit.ScoreScale or None"
    )


def _undeclared(backend: Any, what: str) -> ConfigurationError:
    return ConfigurationError(
        f"{what}: backend {backend.name}/{backend.model} declares no score kind (score_scale); "
        "give it a rerankit.ScoreScale (docs/scores.md)"
    )


class ScoreMapping:
    """What a Reranker does with raw scores: nothing, ``normalize=True`` or a ``calibration``.

    Built once per :class:`~rerankit.Reranker` (checked against every backend it may answer
    with) and applied by the core once per call (:meth:`apply`), after the merge and before the
    sort, the threshold and the cut.

    Args:
        normalize: Map each score by its family's documented normalization.
        calibration: A fitted :class:`~rerankit.Calibration` to map scores to P(relevant).
    """

    def __init__(self, *, normalize: bool = False, calibration: Calibration | None = None) -> None:
        if not isinstance(normalize, bool):
            raise ConfigurationError(f"normalize must be True or False, got {normalize!r}")
        if normalize and calibration is not None:
            raise ConfigurationError(
                "give normalize=True or calibration=..., not both: a calibration already maps the "
                "raw score to 0-1"
            )
        self.normalize = normalize
        self.calibration = calibration
        self._warned: set[tuple[str, str]] = set()

    @property
    def maps_scores(self) -> bool:
        """Whether scores are normalized or calibrated (else they are the raw scores)."""
        return self.normalize or self.calibration is not None

    def check(self, backends: Sequence[Any]) -> None:
        """Refuse a mapping that cannot apply to one of ``backends`` (the first, then fallbacks).

        Raises:
            ConfigurationError: ``normalize=True`` for a kind with no documented normalization
                (the message names the kind), or a calibration fitted for another model or format.
        """
        for backend in backends:
            if self.normalize:
                scale = score_scale_of(backend)
                if scale is None:
                    raise _undeclared(backend, "normalize=True")
                scale.normalized()
            if self.calibration is not None:
                self.calibration.check_fits(backend, score_scale_of(backend))

    def scale_for(self, backend: Any) -> ScoreScale | None:
        """The scale of the scores a response from ``backend`` carries."""
        if self.calibration is not None:
            return self.calibration.scale
        scale = score_scale_of(backend)
        if self.normalize and scale is not None:
            return scale.normalized()
        return scale

    def apply(self, backend: Any, scores: list[float]) -> list[float]:
        """``scores`` as a response from ``backend`` reports them (a new list; order kept)."""
        if self.calibration is not None:
            return self.calibration.apply(scores)
        if self.normalize:
            scale = score_scale_of(backend)
            if scale is None:  # checked at construction; a backend may have changed since
                raise _undeclared(backend, "normalize=True")
            return scale.normalize(scores)
        return scores

    def warn_unmapped_threshold(self, backend: Any, threshold: float | None) -> None:
        """Log once per backend when ``threshold`` is applied to raw logits: its meaning then
        depends on the model, and ``normalize=True`` or a calibration makes it a probability."""
        if threshold is None or self.maps_scores:
            return
        scale = score_scale_of(backend)
        if scale is None or scale.kind != "logit":
            return
        key = (backend.name, backend.model)
        if key in self._warned:
            return
        self._warned.add(key)
        logger.warning(
            "score_threshold=%g is applied to %s/%s's raw scores, whose kind is 'logit' (%s, "
            "unbounded): pass normalize=True or calibration=... to threshold a 0-1 score (docs/scores.md)",
            threshold,
            backend.name,
            backend.model,
            scale.description,
        )


__all__ = [
    "SCORE_KINDS",
    "Normalization",
    "ScoreKind",
    "ScoreMapping",
    "ScoreScale",
    "score_scale_of",
    "sigmoid",
]
