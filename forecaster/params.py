"""Model and training settings: a frozen, validated dataclass (no TensorFlow needed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pipelines.errors import ForecasterError

CELLS = ("lstm", "gru")
LOSSES = ("mse", "mae")
NORMS = ("last", "mean")
DECODERS = ("dense", "parallel", "auto")
DEFAULT_SEGMENT = 24


def _require(name: str, value: object, ok: bool, want: str) -> None:
    if not ok:
        raise ForecasterError(f"`{name}` must be {want}. Received: {name}={value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ModelParams:
    """How the network is built and trained.

    The defaults are the design that measured best on the shipped data (README, "Choosing
    the defaults"): a one-layer GRU of 128 units over segments of 24 rows with SegRNN's
    parallel decoder, the last-value instance normalization, L1 loss and a learning rate
    that decays by 0.9 per epoch. ``segment=0`` gives the plain row-by-row recurrent network
    (stacked with ``layers``; ``conv`` adds its Conv1D front), with a dense head; ``segment``
    left at ``None`` means 24, or 0 with ``conv=True``.

    The first group builds the network (``residual`` turns instance normalization on,
    ``norm`` picks the statistic: the window's ``"last"`` value or its ``"mean"``;
    ``channel_independent``, ``segment`` and ``decoder`` are the SegRNN-style options of
    `forecaster.nn.segment.build_segment_model`, used when ``segment`` > 0, ``channel_independent``
    or ``norm="mean"``; a segment longer than the input window is the whole window).
    ``decoder="auto"`` becomes ``"parallel"`` with segments and ``"dense"`` without.
    ``lr_decay`` < 1 multiplies the learning rate by that factor every epoch after the
    third (1: halve it on plateaus instead). ``ensemble`` > 1 trains that
    many networks of this design, with seeds ``seed``, ``seed + 1``, ..., each with its own
    early stopping, and forecasts their average (one saved network; `forecaster.nn.ensemble`).

    Example:
        >>> ModelParams(model="lstm", layers=2).decoder
        'parallel'
        >>> ModelParams(segment=0).decoder
        'dense'
        >>> ModelParams(conv=True).segment
        0
        >>> ModelParams(dropout=1.5)
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `dropout` must be a float in [0, 1). Received: dropout=1.5
    """

    model: str = "gru"
    layers: int = 1
    units: int = 128
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    conv: bool = False
    residual: bool = True
    loss: str = "mae"
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 5
    seed: int = 0
    norm: str = "last"
    channel_independent: bool = False
    segment: int | None = None
    decoder: str = "auto"
    lr_decay: float = 0.9
    ensemble: int = 1

    def __post_init__(self) -> None:
        _require("model", self.model, self.model in CELLS, f"one of {CELLS}")
        _require("loss", self.loss, self.loss in LOSSES, f"one of {LOSSES}")
        _require("norm", self.norm, self.norm in NORMS, f"one of {NORMS}")
        _require("decoder", self.decoder, self.decoder in DECODERS, f"one of {DECODERS}")
        if self.segment is None:  # segments of 24, unless the Conv1D front asks for the row-by-row network
            object.__setattr__(self, "segment", 0 if self.conv else DEFAULT_SEGMENT)
        _require("segment", self.segment, _is_int(self.segment) and self.segment >= 0, "a non-negative integer")
        if self.decoder == "auto":
            object.__setattr__(self, "decoder", "parallel" if self.segment else "dense")
        if self.decoder == "parallel":
            _require("segment", self.segment, self.segment > 0,
                     "positive for decoder='parallel' (use decoder='dense' or 'auto' with segment=0)")
        if self.norm == "mean" and not self.residual:
            raise ForecasterError("norm='mean' picks the statistic of instance normalization, which residual=False "
                                  "turns off; set residual=True or leave norm at 'last'")
        if self.conv and self.segment_model:
            raise ForecasterError("`conv` is an option of the plain recurrent network: set segment=0 with it (and "
                                  "leave channel_independent off, decoder at 'dense' or 'auto', norm at 'last')")
        lr_decay = self.lr_decay
        _require("lr_decay", lr_decay, isinstance(lr_decay, (int, float)) and not isinstance(lr_decay, bool)
                 and 0 < lr_decay <= 1, "a float in (0, 1]")
        for name in ("layers", "units", "epochs", "batch_size", "patience", "ensemble"):
            value = getattr(self, name)
            _require(name, value, _is_int(value) and value >= 1, "a positive integer")
        _require("seed", self.seed, _is_int(self.seed) and self.seed >= 0, "a non-negative integer")
        for name in ("dropout", "recurrent_dropout"):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1
            _require(name, value, ok, "a float in [0, 1)")
        lr = self.learning_rate
        _require("learning_rate", lr, isinstance(lr, (int, float)) and 0 < lr < 1, "a float in (0, 1)")
        for name in ("conv", "residual", "channel_independent"):
            _require(name, getattr(self, name), isinstance(getattr(self, name), bool), "True or False")

    @property
    def segment_model(self) -> bool:
        """True when the network comes from `forecaster.nn.segment` (a SegRNN-style option is set)."""
        return self.channel_independent or self.segment > 0 or self.decoder != "dense" or self.norm != "last"

    def to_dict(self) -> dict:
        """Plain JSON-able form (``ensemble`` only when > 1, so that single-network bundles
        stay readable by releases from before the option)."""
        data = asdict(self)
        if data["ensemble"] == 1:
            del data["ensemble"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelParams:
        """Inverse of `to_dict` (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ForecasterError(f"unknown model parameter(s) {unknown}")
        if data.get("norm") == "mean" and data.get("residual") is False:
            # saved before that combination became an error: the network was built without
            # instance normalization (norm has no effect then); keep such bundles loadable
            params = cls(**{**data, "residual": True})
            object.__setattr__(params, "residual", False)
            return params
        return cls(**data)


DEFAULTS: dict[str, object] = {f.name: f.default for f in fields(ModelParams)}
"""The declared default of every `ModelParams` field (``segment`` as ``None``, ``decoder`` as
``"auto"``: resolved when the params are made), shared by
`forecaster.train` and the ``forecaster train`` options."""
