"""The model bundle: a directory with ``model.keras`` and ``bundle.json`` (no pickle).

``bundle.json`` holds the schema version, the kind (``forecast`` or ``backfill``), the
metadata a model needs to be used (window spec, columns, cadence, gap rule, scaler
statistics, parameters), what training measured, library versions, and the sha256 of
every other file in the bundle. `read_meta` checks all of it without TensorFlow; `load_bundle`
then loads the network with ``safe_mode=True``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipelines.errors import ForecasterError

SCHEMA_VERSION = 1
KINDS = ("forecast", "backfill")
MODEL_FILE = "model.keras"
META_FILE = "bundle.json"


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_bundle(directory: str | Path, model: Any, meta: dict[str, Any]) -> Path:
    """Write ``model`` and ``meta`` into ``directory`` (created if needed)."""
    if meta.get("kind") not in KINDS:
        raise ForecasterError(f"bundle kind must be one of {KINDS}. Received: {meta.get('kind')!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    from forecaster.nn.saving import save_network

    save_network(model, directory / MODEL_FILE)
    write_meta(directory, meta)
    return directory


def _library_versions() -> dict[str, str]:
    from forecaster.nn.saving import library_versions

    return library_versions()


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    """(Re)write ``bundle.json`` with fresh checksums of the bundle's other files."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.name != META_FILE)
    full = {
        **meta,
        "schema_version": SCHEMA_VERSION,
        "versions": _library_versions(),
        "files": {p.name: sha256(p) for p in files},
    }
    tmp = directory / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(full, indent=2, allow_nan=False) + "\n")
    tmp.replace(directory / META_FILE)


def read_meta(directory: str | Path) -> dict[str, Any]:
    """Read and check ``bundle.json`` and the checksums of the files it lists."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise ForecasterError(f"{directory}: not a model bundle (no {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ForecasterError(f"{meta_path}: unreadable ({exc})") from None
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ForecasterError(
            f"{directory}: bundle schema version {version!r}, this forecaster reads {SCHEMA_VERSION}"
        )
    if meta.get("kind") not in KINDS:
        raise ForecasterError(f"{directory}: unknown bundle kind {meta.get('kind')!r}")
    for name, digest in meta.get("files", {}).items():
        path = directory / name
        if not path.is_file():
            raise ForecasterError(f"{directory}: missing bundle file {name}")
        if sha256(path) != digest:
            raise ForecasterError(f"{directory}: checksum mismatch for {name} (file changed or corrupt)")
    if MODEL_FILE not in meta.get("files", {}):
        raise ForecasterError(f"{directory}: bundle lists no {MODEL_FILE}")
    return meta


def load_bundle(directory: str | Path) -> tuple[Any, dict[str, Any]]:
    """Check and load a bundle: ``(keras model, metadata)``."""
    meta = read_meta(directory)
    from forecaster.nn.saving import load_network

    return load_network(Path(directory) / MODEL_FILE, source=directory), meta
