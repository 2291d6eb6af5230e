"""Every relative link of README.md and docs/*.md points to a file (and heading) that exists; no shell
block uses the bracketed optional syntax of usage lines, which a shell would take literally."""

from __future__ import annotations

import re

import pytest
from docblocks import RUNNABLE, blocks, documents, without_code
from helpers import ROOT

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")


def anchors(path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", without_code(path.read_text()), re.M)}


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    broken = []
    for target in LINK.findall(without_code(doc.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        dest = (doc.parent / file).resolve() if file else doc
        if not dest.exists():
            broken.append(f"{target}: no {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_blocks_have_no_bracketed_options(doc):
    bad = [body for info, body in blocks(doc)
           if info.split()[:1] in (["sh"], ["bash"]) and re.search(r" \[--?\w", body)]
    assert not bad, f"{doc.relative_to(ROOT)}: write real commands, not usage lines: {bad}"


def test_readme_and_docs_have_runnable_blocks():
    assert any(info == RUNNABLE for info, _ in blocks(ROOT / "README.md"))
    assert any(info == RUNNABLE for doc in (ROOT / "docs").glob("*.md") for info, _ in blocks(doc))
