"""The network's file: save and load ``model.keras`` (``safe_mode=True``), and the library
versions a bundle records. Importing this module registers every custom layer."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from forecaster.nn.layers import keras
from pipelines.errors import ForecasterError


def save_network(network: Any, path: Path) -> None:
    """Write a Keras network to ``path`` (a ``.keras`` file)."""
    network.save(path)


def load_network(path: Path, *, source: str | Path) -> Any:
    """Load a ``.keras`` file with ``safe_mode=True`` (no Lambda, no arbitrary code).

    Raises:
        ForecasterError: the file does not load (``source`` names the bundle in the message).
    """
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ForecasterError(f"{source}: cannot load {path.name}: {exc}") from None


def library_versions() -> dict[str, str]:
    """Versions of what produced a bundle."""
    import numpy
    import pandas
    import sklearn
    import tensorflow

    return {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "tensorflow": tensorflow.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
    }
