"""The shell blocks of README.md and docs/*.md, for the tests that run them and check their links."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import ROOT

RUNNABLE = "sh runnable"  # the info string of a block the tests run: GitHub still renders it as `sh`
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


def documents() -> list[Path]:
    """README.md, docs/*.md and the other READMEs that docs link to."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md",
            ROOT / "deploy" / "README.md"]


def blocks(path: Path) -> list[tuple[str, str]]:
    """Every fenced block of a markdown file as (info string, body), in order."""
    return [(m.group(1).strip(), m.group(2)) for m in FENCE.finditer(path.read_text())]


def runnable_blocks(path: Path) -> list[str]:
    return [body for info, body in blocks(path) if info == RUNNABLE]


def without_code(text: str) -> str:
    """The text with fenced blocks and inline code removed (links are looked for in the rest)."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))
