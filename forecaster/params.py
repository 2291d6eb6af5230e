"""Model and training settings, declared once: a frozen, validated dataclass (no TensorFlow).

Every option of `ModelParams` is one `option` field: its default, its check (shared with the
other settings, `pipelines.checks`) and its help text. ``forecaster train`` derives its
options from these fields and `forecaster.train` its keywords, so a new option is one edit.
Old names are translated in one place, `upgrade_options` (bundles saved with them load as
before; the library and the command line warn that they are deprecated).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from pipelines.calendar import AUTO, NONE, PARTS, auto_parts, parse_calendar
from pipelines.checks import Check, boolean, integer, one_of, optional, real, subset
from pipelines.errors import ForecasterError

CELLS = ("lstm", "gru")
LOSSES = ("mse", "mae")
NORMS = ("last", "mean", "none")
DECODERS = ("dense", "parallel", "auto")
LINEARS = ("none", "window", "channel", "shared")
DEFAULT_LINEAR = "none"
OLD_LINEAR = "none"
"""What a bundle saved before the linear path existed was built with."""
SCALES = ("global", "per-sensor")
COMBINES = ("none", "baselines")
DEFAULT_COMBINE = "baselines"
OLD_COMBINE = "none"
"""What a bundle saved before the baseline combination existed was built with."""
OLD_CALENDAR = NONE
"""What a bundle saved without ``calendar`` was built with (``auto``, the default now, is resolved at training)."""
OLD_CHANNEL_INDEPENDENT = False
"""What a bundle saved without ``channel_independent`` was built with (``None``, the default now, is automatic)."""
DEFAULT_SEGMENT = 24
DEPRECATED = {"model": "cell"}
"""Old option names and their names now (accepted, with a FutureWarning, for one release)."""


def option(default: Any, check: Check, help: str) -> Any:
    """A settings field: its default, its `Check` and its help text (read by the command line)."""
    return field(default=default, metadata={"check": check, "help": help})


def check_fields(settings: Any) -> None:
    """Run the declared check of every field of a settings dataclass (in declaration order)."""
    for f in fields(settings):
        if "check" in f.metadata:
            f.metadata["check"](f.name, getattr(settings, f.name))


def upgrade_options(options: dict[str, Any], *, warn: bool, stacklevel: int = 2) -> dict[str, Any]:
    """``options`` with old names translated (the one place that knows them).

    ``model`` is now ``cell``; ``residual`` (instance normalization on or off) and ``norm``
    (its statistic) are now one ``norm``: ``residual=False`` is ``norm="none"``. Bundles
    saved before are read with ``warn=False``; callers of the library get a FutureWarning.

    Example:
        >>> upgrade_options({"model": "lstm", "residual": False, "norm": "mean"}, warn=False)
        {'norm': 'none', 'cell': 'lstm'}
    """
    options = dict(options)
    for old, new in DEPRECATED.items():
        if old not in options:
            continue
        if new in options:
            raise ForecasterError(f"give `{new}` only (`{old}` is its deprecated name)")
        if warn:
            warnings.warn(f"`{old}` is deprecated and will be removed; use `{new}`", FutureWarning,
                          stacklevel=stacklevel)
        options[new] = options.pop(old)
    if "residual" in options:
        residual = options.pop("residual")
        if warn:
            warnings.warn("`residual` is deprecated and will be removed; use `norm` ('last', 'mean' or 'none')",
                          FutureWarning, stacklevel=stacklevel)
            if residual is False and options.get("norm", "none") != "none":
                raise ForecasterError("residual=False turns instance normalization off; give norm='none' only")
        if residual is False:  # such networks were built without instance normalization, whatever `norm` said
            options["norm"] = "none"
    return options


@dataclass(frozen=True)
class ModelParams:
    """How the network is built and trained.

    The defaults are the design that measured best on the shipped data (docs/model-options.md, "Choosing
    the defaults"): a one-layer GRU of 128 units over segments of 24 rows with SegRNN's
    parallel decoder, the last-value instance normalization, L1 loss and a learning rate
    that decays by 0.9 per epoch. ``segment=0`` gives the plain row-by-row recurrent network
    (stacked with ``layers``; ``conv`` adds its Conv1D front), with a dense head; ``segment``
    left at ``None`` means 24, or 0 with ``conv=True``. ``channel_independent``, ``segment``,
    ``decoder`` and ``norm="mean"`` are the SegRNN-style options of
    `forecaster.nn.segment.build_segment_model`. ``ensemble`` > 1 trains that many networks
    of this design (seeds ``seed``, ``seed + 1``, ...) and forecasts their average.

    Example:
        >>> ModelParams(cell="lstm", layers=2).decoder
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

    cell: str = option("gru", one_of(CELLS), "Recurrent cell.")
    layers: int = option(1, integer(1), "Stacked recurrent layers.")
    units: int = option(128, integer(1), "Units per layer (also the segment embedding size).")
    dropout: float = option(0.0, real(0, 1, high_open=True), "Dropout in [0, 1) (before the head).")
    recurrent_dropout: float = option(0.0, real(0, 1, high_open=True), "Recurrent dropout in [0, 1).")
    conv: bool = option(False, boolean(),
                        "Conv1D + MaxPooling front of the row-by-row network (segments default to 0 with it).")
    norm: str = option("last", one_of(NORMS),
                       "Instance normalization: subtract each channel's last value in the window (or its mean) "
                       "and add it back to the forecast; none: off.")
    channel_independent: bool | None = option(
        None, optional(boolean()),
        "One shared network runs over each input channel (every target must be a feature). [default: on when "
        "every input column is a target and there are several (robust to a shift in the other channels' levels, "
        "measured: benchmarks/skill.py); off with inputs that are not targets, which only a network that mixes "
        "channels can use]")
    segment: int | None = option(None, optional(integer(0)),
                                 "Cut the window into segments of this many rows, each embedded; the RNN runs over "
                                 "segments (SegRNN; longer than the window: one segment). 0: row by row. "
                                 "[default: 24; 0 with --conv]")
    decoder: str = option("auto", one_of(DECODERS),
                          "One dense head for the whole horizon, or SegRNN's parallel decoding (needs segments); "
                          "auto: parallel with segments, dense without.")
    linear: str = option(DEFAULT_LINEAR, one_of(LINEARS),
                         "Add a linear map of the normalised window to the forecast, trained with the network: "
                         "window (every feature's window to every target, like the ridge baseline), channel (each "
                         "target from its own history), shared (one map for all targets), none.")
    scale: str = option("global", one_of(SCALES),
                        "Standardize with statistics of all sensors' training rows, or per sensor (each sensor's "
                        "own training rows; a sensor unseen at training gets the global ones).")
    calendar: str = option(AUTO, subset(PARTS, alone=(AUTO, NONE)),
                           "Calendar inputs: sine/cosine of each input row's time (UTC), e.g. hour,dow (also doy, "
                           "month); none: off; auto: hour,dow when the horizon is longer than the input window at a "
                           "sub-daily cadence, unless the network is channel independent (measured at long "
                           "horizons), else none.")
    combine: str = option(DEFAULT_COMBINE, one_of(COMBINES),
                          "After training, combine the network's forecast with the naive, seasonal naive and ridge "
                          "baselines, per target and horizon step, with weights chosen on the validation windows "
                          "(forecaster.combine); none: the network alone.")
    loss: str = option("mae", one_of(LOSSES), "Training loss.")
    epochs: int = option(30, integer(1), "Most epochs (early stopping ends most runs sooner).")
    batch_size: int = option(64, integer(1), "Windows per training batch.")
    learning_rate: float = option(1e-3, real(0, 1, low_open=True, high_open=True), "Adam learning rate.")
    lr_decay: float = option(0.9, real(0, 1, low_open=True),
                             "Multiply the learning rate by this every epoch after the third (1: halve it on "
                             "plateaus).")
    patience: int = option(5, integer(1), "Early-stopping patience (epochs).")
    seed: int = option(0, integer(0), "Random seed (weights, shuffling).")
    ensemble: int = option(1, integer(1), "Train this many networks (seeds seed, seed+1, ...) and forecast their "
                                          "average.")

    def __post_init__(self) -> None:
        check_fields(self)
        if self.calendar.strip() != AUTO:
            object.__setattr__(self, "calendar", ",".join(parse_calendar(self.calendar)) or NONE)
        else:
            object.__setattr__(self, "calendar", AUTO)
        if self.segment is None:  # segments of 24, unless the Conv1D front asks for the row-by-row network
            object.__setattr__(self, "segment", 0 if self.conv else DEFAULT_SEGMENT)
        if self.decoder == "auto":
            object.__setattr__(self, "decoder", "parallel" if self.segment else "dense")
        if self.decoder == "parallel" and not self.segment:
            raise ForecasterError("`segment` must be positive for decoder='parallel' (use decoder='dense' or "
                                  f"'auto' with segment=0). Received: segment={self.segment!r}")
        if self.conv and self.segment_model:
            raise ForecasterError("`conv` is an option of the plain recurrent network: set segment=0 with it (and "
                                  "leave channel_independent off, decoder at 'dense' or 'auto', norm 'last' or "
                                  "'none')")

    @property
    def calendar_parts(self) -> tuple[str, ...]:
        """The calendar parts, in `pipelines.calendar.PARTS` order (empty: none; ``auto`` is empty until
        `resolved` by training)."""
        return () if self.calendar == AUTO else parse_calendar(self.calendar)

    def resolved(self, spec: Any, step_ns: int, parent: ModelParams | None = None) -> ModelParams:
        """These settings with ``calendar="auto"`` replaced by what it means for ``spec`` (a
        `pipelines.windows.WindowSpec`) at a cadence of ``step_ns`` (`pipelines.calendar.auto_parts`),
        or by the ``parent``'s calendar (a warm start continues its parent's network); unchanged otherwise."""
        if self.calendar != AUTO:
            return self
        if parent is not None:
            return replace(self, calendar=parent.calendar)
        independent = self.independent_channels(list(spec.features), list(spec.targets))
        parts = auto_parts(spec, step_ns, independent=independent)
        return replace(self, calendar=",".join(parts) or NONE)

    @property
    def segment_model(self) -> bool:
        """True when the network comes from `forecaster.nn.segment` (a SegRNN-style option is set)."""
        return bool(self.channel_independent) or self.segment > 0 or self.decoder != "dense" or self.norm == "mean"

    def independent_channels(self, features: list[str], targets: list[str]) -> bool:
        """Whether the network runs over each channel alone: ``channel_independent`` when set, else
        (automatic) when the features are exactly the targets and there are several.

        Example:
            >>> ModelParams().independent_channels(["a", "b"], ["b", "a"]), ModelParams().independent_channels(["a", "b"], ["b"])
            (True, False)
        """
        if self.channel_independent is not None:
            return self.channel_independent
        return self.segment_model and len(features) > 1 and set(features) == set(targets)

    def to_dict(self) -> dict:
        """Plain JSON-able form (``ensemble`` only when > 1)."""
        data = asdict(self)
        if data["ensemble"] == 1:
            del data["ensemble"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelParams:
        """Inverse of `to_dict`; also reads the names of earlier bundles (``model``,
        ``residual``) without a warning; a bundle without ``linear`` predates the linear path
        (`OLD_LINEAR`), one without ``combine`` the baseline combination (`OLD_COMBINE`), one
        without ``channel_independent`` automatic channel independence (`OLD_CHANNEL_INDEPENDENT`), one
        without ``calendar`` no calendar inputs (`OLD_CALENDAR`). Unknown keys are an error."""
        old = {"linear": OLD_LINEAR, "combine": OLD_COMBINE, "channel_independent": OLD_CHANNEL_INDEPENDENT,
               "calendar": OLD_CALENDAR}
        return cls.from_options(None, upgrade_options({**old, **data}, warn=False))

    @classmethod
    def from_options(cls, base: ModelParams | None, options: dict[str, Any], *, stacklevel: int = 2) -> ModelParams:
        """``base`` (default: the declared defaults) with ``options`` by field name.

        With a ``base``, options replace its fields as they are: its ``segment`` and
        ``decoder`` are already resolved (``ModelParams()`` holds 24 and ``"parallel"``), so
        ``segment=0`` over it needs ``decoder="dense"`` (or ``"auto"``) too.

        Deprecated names are accepted with a FutureWarning (`upgrade_options`); any other
        unknown name is an error that names it.

        Example:
            >>> ModelParams.from_options(None, {"cell": "lstm", "units": 16}).units
            16
            >>> ModelParams.from_options(None, {"unit": 16})  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            pipelines.errors.ForecasterError: unknown model option(s) ['unit']; the options are ...
        """
        options = upgrade_options(options, warn=True, stacklevel=stacklevel + 1)
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise ForecasterError(f"unknown model option(s) {unknown}; the options are {', '.join(names)}")
        if base is None:
            return cls(**options)
        if not isinstance(base, ModelParams):
            raise ForecasterError(f"`params` must be a ModelParams. Received: {type(base).__name__}")
        return replace(base, **options)
