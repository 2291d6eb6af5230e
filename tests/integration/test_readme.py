"""README's library example runs as written (in a scratch folder)."""

from __future__ import annotations

import os
import re
import shutil

from helpers import ROOT


def test_library_example_runs(tmp_path, capsys):
    text = (ROOT / "README.md").read_text()
    code = re.search(r"### 3\. A Python library\s+```python\n(.*?)```", text, re.S).group(1)
    (tmp_path / "data").mkdir()
    shutil.copy(ROOT / "data" / "ETTh1.csv", tmp_path / "data" / "ETTh1.csv")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "48 12"
    assert (tmp_path / "out" / "readme-gru" / "bundle.json").is_file()
    assert "2018-06-26 20:00:00+00:00" in out
