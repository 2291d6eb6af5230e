"""Model and training settings: a frozen, validated dataclass (no TensorFlow needed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pipelines.errors import ForecasterError

CELLS = ("lstm", "gru")
LOSSES = ("mse", "mae")


def _require(name: str, value: object, ok: bool, want: str) -> None:
    if not ok:
        raise ForecasterError(f"`{name}` must be {want}. Received: {name}={value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ModelParams:
    """How the network is built and trained.

    Example:
        >>> ModelParams(model="gru", layers=2).units
        64
        >>> ModelParams(dropout=1.5)
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `dropout` must be a float in [0, 1). Received: dropout=1.5
    """

    model: str = "lstm"
    layers: int = 1
    units: int = 64
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    conv: bool = False
    residual: bool = True
    loss: str = "mse"
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        _require("model", self.model, self.model in CELLS, f"one of {CELLS}")
        _require("loss", self.loss, self.loss in LOSSES, f"one of {LOSSES}")
        for name in ("layers", "units", "epochs", "batch_size", "patience"):
            value = getattr(self, name)
            _require(name, value, _is_int(value) and value >= 1, "a positive integer")
        _require("seed", self.seed, _is_int(self.seed) and self.seed >= 0, "a non-negative integer")
        for name in ("dropout", "recurrent_dropout"):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1
            _require(name, value, ok, "a float in [0, 1)")
        lr = self.learning_rate
        _require("learning_rate", lr, isinstance(lr, (int, float)) and 0 < lr < 1, "a float in (0, 1)")
        for name in ("conv", "residual"):
            _require(name, getattr(self, name), isinstance(getattr(self, name), bool), "True or False")

    def to_dict(self) -> dict:
        """Plain JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelParams:
        """Inverse of `to_dict` (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ForecasterError(f"unknown model parameter(s) {unknown}")
        return cls(**data)
