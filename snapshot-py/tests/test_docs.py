"""Every Python block of the README and the guide runs, in a fresh directory."""

from __future__ import annotations

import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for number, match in enumerate(re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M)):
            yield pytest.param(page, match.group(1), id=f"{page.relative_to(ROOT)}#{number}")


BLOCKS = list(python_blocks())


def test_the_pages_have_python_blocks():
    # The README's quick start and the Python page at least: a moved page must not
    # silently leave this test with nothing to run.
    pages = {param.values[0].name for param in BLOCKS}
    assert {"README.md", "python.md"} <= pages, pages


@pytest.mark.parametrize("page,code", BLOCKS)
def test_block_runs(page, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{page}", "exec"), {"__name__": "__doc_block__"})
    assert os.getcwd() == str(tmp_path)
