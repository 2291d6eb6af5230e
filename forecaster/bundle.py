"""The model bundle: a directory with ``model.keras`` and ``bundle.json`` (no pickle).

``bundle.json`` holds the schema version, the kind (``forecast`` or ``backfill``), the
metadata a model needs to be used (window spec, columns, cadence, gap rule, scaler
statistics, parameters), what training measured, library versions, and the sha256 of
every other file in the bundle; ``MANIFEST.sha256`` then covers every file, ``bundle.json``
included, so an edited ``bundle.json`` is refused too. No listed path may leave the bundle. `read_meta` checks all of it without TensorFlow, and the kind
the caller expects (the one place that refuses a bundle of the other kind); `load_bundle`
then loads the network with ``safe_mode=True``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipelines.checks import one_of, optional
from pipelines.errors import ForecasterError

SCHEMA_VERSION = 1
KINDS = ("forecast", "backfill")
WRONG_KIND = {
    "forecast": "a backfill bundle cannot serve forecasts (its bidirectional network needs the future, so it "
                "cannot forecast); use `forecaster backfill` with it",
    "backfill": "a forecast bundle cannot backfill; train one with `forecaster train-backfill`",
}
"""What to say when a caller expecting this kind gets a bundle of the other kind."""
MODEL_FILE = "model.keras"
META_FILE = "bundle.json"
MANIFEST_FILE = "MANIFEST.sha256"
"""Every other file of the bundle, ``bundle.json`` included, in ``sha256sum`` format (bundles
written before it existed are checked by the checksums ``bundle.json`` holds)."""


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


HASH_CHARS = 16
"""Hex digits of a bundle's content hash (64 bits: ample to tell a fleet's bundles apart)."""


def content_hash(directory: str | Path) -> str:
    """The bundle's identity: the sha256 of its manifest (which lists the sha256 of every file,
    ``bundle.json`` included), its first `HASH_CHARS` hex digits; of ``bundle.json`` for a
    bundle written before manifests. Same files, same hash; any changed byte, another hash.
    It reads two small files and hashes nothing else: call `read_meta` to verify the files."""
    directory = Path(directory)
    path = directory / MANIFEST_FILE
    if not path.is_file():
        path = directory / META_FILE
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_CHARS]
    except OSError as exc:
        raise ForecasterError(f"{directory}: not a model bundle ({exc.strerror}: {path.name})") from None


def fitted_meta(kind: str, estimator: Any, **extra: Any) -> dict[str, Any]:
    """What ``bundle.json`` records of any fitted estimator (`Forecaster`, `Backfiller`): its
    kind, name, spec, cadence, columns, scaler statistics, parameters, training history and
    metrics, and ``extra`` (e.g. the forecaster's ``max_gap`` and ``split``)."""
    return {
        "kind": kind,
        "name": estimator.name,
        "spec": estimator.spec.to_dict(),
        "freq": estimator.freq_,
        **extra,
        "time_col": estimator.time_col_,
        "sensor_col": estimator.sensor_col_,
        "scaler": estimator.scaler_.to_dict(),
        "params": estimator.params.to_dict(),
        "history": getattr(estimator, "history_", {}),
        "metrics": getattr(estimator, "metrics_", {}),
    }


def save_bundle(directory: str | Path, model: Any, meta: dict[str, Any]) -> Path:
    """Write ``model`` and ``meta`` into ``directory`` (created if needed)."""
    one_of(KINDS)("kind", meta.get("kind"))
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
    """(Re)write ``bundle.json`` with fresh checksums of the bundle's other files, then the
    manifest over every file, ``bundle.json`` included (each written atomically)."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.name not in (META_FILE, MANIFEST_FILE))
    full = {
        **meta,
        "schema_version": SCHEMA_VERSION,
        "versions": _library_versions(),
        "files": {p.name: sha256(p) for p in files},
    }
    _write_atomically(directory / META_FILE, json.dumps(full, indent=2, allow_nan=False) + "\n")
    listed = [*files, directory / META_FILE]
    _write_atomically(directory / MANIFEST_FILE, "".join(f"{sha256(p)}  {p.name}\n" for p in sorted(listed)))


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _plain_name(directory: Path, name: object, where: str) -> str:
    """A file name that stays inside the bundle (no folder, no ``..``, not absolute)."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ForecasterError(f"{directory}: {where} names {name!r}, which is not a file of the bundle folder")
    return name


def _check_manifest(directory: Path) -> None:
    """Verify ``MANIFEST.sha256`` (when the bundle has one): every listed file, ``bundle.json``
    included, exists inside the bundle with its checksum."""
    path = directory / MANIFEST_FILE
    if not path.is_file():
        return
    listed: set[str] = set()
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ForecasterError(f"{path}, line {number}: not a '<sha256>  <file>' line")
        name = _plain_name(directory, name, f"{MANIFEST_FILE} line {number}")
        _check_file(directory, name, digest)
        listed.add(name)
    if META_FILE not in listed:
        raise ForecasterError(f"{directory}: {MANIFEST_FILE} does not cover {META_FILE}")


def _check_file(directory: Path, name: str, digest: object) -> None:
    path = directory / name
    if not path.is_file():
        raise ForecasterError(f"{directory}: missing bundle file {name}")
    if sha256(path) != digest:
        raise ForecasterError(f"{directory}: checksum mismatch for {name} (file changed or corrupt)")


def read_meta(directory: str | Path, expect: str | None = None) -> dict[str, Any]:
    """Read and check ``bundle.json`` and the checksums of the files it lists.

    Args:
        directory: the bundle.
        expect: the kind the caller needs (``"forecast"`` or ``"backfill"``); ``None``: either.

    Raises:
        ForecasterError: not a bundle, another schema version, a changed or missing file, or
            a bundle of another kind than ``expect``.
    """
    optional(one_of(KINDS))("expect", expect)
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
    _check_manifest(directory)
    if meta.get("kind") not in KINDS:
        raise ForecasterError(f"{directory}: unknown bundle kind {meta.get('kind')!r}")
    if expect is not None and meta["kind"] != expect:
        raise ForecasterError(f"{directory}: {WRONG_KIND[expect]}")
    files = meta.get("files", {})
    if not isinstance(files, dict):
        raise ForecasterError(f"{directory}: {META_FILE} 'files' must map file names to checksums")
    for name, digest in files.items():
        _check_file(directory, _plain_name(directory, name, f"{META_FILE} 'files'"), digest)
    if MODEL_FILE not in files:
        raise ForecasterError(f"{directory}: bundle lists no {MODEL_FILE}")
    return meta


def load_bundle(directory: str | Path, expect: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Check (`read_meta`, kind included) and load a bundle: ``(keras model, metadata)``."""
    meta = read_meta(directory, expect)
    from forecaster.nn.saving import load_network

    return load_network(Path(directory) / MODEL_FILE, source=directory), meta
