"""Every shell block of README.md and docs/*.md opened with ```sh runnable runs as written.

Each document gets a scratch folder holding a copy of data/; its runnable blocks run there in
order (a block may use what an earlier one wrote), under bash -e, each with a timeout. The
commands the docs write, `.venv/bin/forecaster` and `.venv/bin/python`, are small wrappers
around this interpreter and this checkout (also on PATH as `forecaster` and `python`).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest
from docblocks import ROOT, documents, runnable_blocks

TIMEOUT = 150  # seconds per block; the blocks are written to finish in well under a minute on 2 cores

DOCS = [doc for doc in documents() if runnable_blocks(doc)]


def scratch(tmp_path):
    shutil.copytree(ROOT / "data", tmp_path / "data")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, argv in {"python": f'"{sys.executable}"', "forecaster": f'"{sys.executable}" -m forecaster'}.items():
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec {argv} "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg")
    return env


@pytest.mark.timeout(600)
@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_runnable_blocks_run(doc, tmp_path):
    env = scratch(tmp_path)
    for number, body in enumerate(runnable_blocks(doc), 1):
        done = subprocess.run(["bash", "-e", "-c", body], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)
        assert done.returncode == 0, (
            f"{doc.relative_to(ROOT)}, runnable block {number} exited {done.returncode}:\n{body}\n"
            f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-4000:]}")


def test_some_blocks_are_runnable():
    assert ROOT / "README.md" in DOCS and len(DOCS) >= 4
