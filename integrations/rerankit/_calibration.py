"""A fitted calibration: a monotone map from one backend's raw score to P(relevant).

``rerankit calibrate SPEC DATA -o calibration.json`` fits it (:mod:`rerankit._calibration_fit`,
with scikit-learn); ``Reranker(..., calibration="calibration.json")`` applies it, with nothing
but the standard library: Platt scaling is ``sigmoid(a * score + b)`` with ``a > 0``, isotonic
regression the piecewise-linear interpolation of its fitted thresholds, clipped at both ends (as
scikit-learn's ``IsotonicRegression(out_of_bounds="clip").predict``). The file records the backend,
model and score it was fitted on, and a reranker scoring anything else refuses it.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rerankit._errors import ConfigurationError
from rerankit._score_kinds import ScoreKind, ScoreScale, sigmoid

#: What a calibration file says it is, so any other JSON file is refused by name.
FILE_FORMAT = "rerankit-calibration"


class CalibrationReport(BaseModel):
    """How the calibration did on the held-out queries: expected calibration error (ECE, equal-width
    bins over [0, 1]) of the baseline and of each method, and what it was fitted on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data: str = Field(description="The labelled data the map was fitted on.")
    bins: int = Field(description="ECE bins (equal width over [0, 1]).")
    baseline: str = Field(description="What the 'before' ECE is of: 'sigmoid' or the score itself.")
    ece_before: float = Field(description="ECE of the baseline on the held-out pairs.")
    ece_after: float = Field(description="ECE of the chosen method on the held-out pairs.")
    ece_by_method: dict[str, float] = Field(description="ECE of every method fitted, held-out pairs.")
    train_pairs: int
    train_positives: int
    heldout_pairs: int
    heldout_positives: int
    heldout_queries: int
    seed: int


class Calibration(BaseModel):
    """A monotone map from one backend's raw scores to P(relevant), as ``rerankit calibrate`` writes it.

    Load one with :meth:`load` (or pass the path: ``Reranker(spec, calibration="calibration.json")``);
    the reranker refuses a file fitted for another backend, model or score.

    Attributes:
        backend: The spec prefix it was fitted on (``"local"``).
        model: The model id it was fitted on.
        score_kind: The kind of the raw scores it maps.
        score_description: What the raw score was exactly (``ScoreScale.description``).
        method: ``"platt"`` or ``"isotonic"``.
        platt: ``(a, b)`` of ``sigmoid(a * score + b)``, with ``method="platt"``.
        isotonic: ``(thresholds, values)``, non-decreasing, with ``method="isotonic"``.
        report: The held-out ECE before and after, when it was fitted by ``rerankit calibrate``.

    >>> calibration = Calibration(backend="fake", model="m", score_kind="logit", score_description="a logit",
    ...                           method="platt", platt=(2.0, -1.0))
    >>> [round(p, 3) for p in calibration.apply([-1.0, 0.5, 3.0])]
    [0.047, 0.5, 0.993]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["rerankit-calibration"] = FILE_FORMAT
    version: Literal[1] = 1
    backend: str
    model: str
    score_kind: ScoreKind | None
    score_description: str | None
    method: Literal["platt", "isotonic"]
    platt: tuple[float, float] | None = None
    isotonic: tuple[list[float], list[float]] | None = None
    report: CalibrationReport | None = None

    @model_validator(mode="after")
    def _one_map(self) -> Calibration:
        if self.method == "platt":
            if self.platt is None or self.isotonic is not None:
                raise ValueError("a 'platt' calibration holds platt=(a, b) and no isotonic map")
            slope, intercept = self.platt
            if not (math.isfinite(slope) and math.isfinite(intercept)) or slope <= 0:
                raise ValueError(f"platt=(a, b) needs a finite a > 0 (an increasing map), got {self.platt}")
        else:
            if self.isotonic is None or self.platt is not None:
                raise ValueError("an 'isotonic' calibration holds isotonic=(thresholds, values) and no platt")
            thresholds, values = self.isotonic
            if not thresholds or len(thresholds) != len(values):
                raise ValueError("isotonic thresholds and values must be non-empty and as long as each other")
            if any(b < a for a, b in pairwise(thresholds)) or any(b < a for a, b in pairwise(values)):
                raise ValueError("isotonic thresholds and values must both be non-decreasing")
            if not all(math.isfinite(x) for x in thresholds) or not all(0.0 <= y <= 1.0 for y in values):
                raise ValueError("isotonic thresholds must be finite and values in [0, 1]")
        return self

    @property
    def spec(self) -> str:
        """The spec it was fitted on, ``"<backend>/<model>"``."""
        return f"{self.backend}/{self.model}"

    @property
    def scale(self) -> ScoreScale:
        """The scale of calibrated scores: a probability in (0, 1)."""
        return ScoreScale(
            kind="probability",
            range=(0.0, 1.0),
            description=f"P(relevant): {self.method} calibration of {self.score_description or 'the raw score'}",
            normalization="identity",
            source=f"rerankit calibrate, fitted for {self.spec}"
            + (f" on {self.report.data}" if self.report else ""),
        )

    def __call__(self, score: float) -> float:
        """The calibrated probability of one raw score."""
        if self.platt is not None:
            slope, intercept = self.platt
            return sigmoid(slope * score + intercept)
        assert self.isotonic is not None
        thresholds, values = self.isotonic
        if score <= thresholds[0]:
            return values[0]
        if score >= thresholds[-1]:
            return values[-1]
        right = bisect.bisect_right(thresholds, score)
        x0, x1, y0, y1 = thresholds[right - 1], thresholds[right], values[right - 1], values[right]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (score - x0) / (x1 - x0)

    def apply(self, scores: Sequence[float]) -> list[float]:
        """The calibrated probability of each raw score, in order."""
        return [self(score) for score in scores]

    def check_fits(self, backend: Any, scale: ScoreScale | None) -> None:
        """Refuse ``backend`` when it is not what this calibration was fitted for.

        Raises:
            ConfigurationError: Another backend or model, or another score (kind or description:
                another LLM format, similarity or activation).
        """
        got = f"{backend.name}/{backend.model}"
        fitted = (self.backend, self.model, self.score_kind, self.score_description)
        actual = (backend.name, backend.model, scale and scale.kind, scale and scale.description)
        if fitted != actual:
            raise ConfigurationError(
                f"the calibration was fitted for {self.spec} ({self.score_kind}: {self.score_description}) "
                f"and cannot map the scores of {got} ({actual[2]}: {actual[3]}); fit one for it with "
                f"`rerankit calibrate {got} DATA -o calibration.json`"
            )

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """Read a calibration file.

        Raises:
            ConfigurationError: The file is missing, not JSON, or not a valid calibration.
        """
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigurationError(f"calibration file {path} not found") from None
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"calibration file {path} is not readable JSON: {exc}") from None
        if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
            raise ConfigurationError(
                f'{path} is not a rerankit calibration file (no "format": {FILE_FORMAT!r}); '
                "write one with `rerankit calibrate`"
            )
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(map(str, first["loc"])) or "the file"
            raise ConfigurationError(f"calibration file {path} is invalid: {where}: {first['msg']}") from None

    def save(self, path: str | Path) -> Path:
        """Write the calibration as JSON; returns the path."""
        path = Path(path)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path


def calibration_from(value: Any) -> Calibration | None:
    """``Reranker(calibration=...)`` as given: a path, a :class:`Calibration`, its dict, or ``None``.

    Raises:
        ConfigurationError: Anything else, or a file or dict that is not a valid calibration.
    """
    if value is None or isinstance(value, Calibration):
        return value
    if isinstance(value, (str, Path)):
        return Calibration.load(value)
    if isinstance(value, dict):
        try:
            return Calibration.model_validate(value)
        except ValidationError as exc:
            raise ConfigurationError(
                f"calibration is invalid: {exc.errors(include_url=False)[0]['msg']}"
            ) from None
    raise ConfigurationError(
        f"calibration must be a path to a calibration file, a rerankit.Calibration or its dict, "
        f"got {type(value).__name__}"
    )


__all__ = ["FILE_FORMAT", "Calibration", "CalibrationReport", "calibration_from"]
