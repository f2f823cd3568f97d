"""Every ```python block of README.md and docs/*.md runs, top to bottom, as written.

The blocks of one file share a namespace (as a reader typing them into one session) and run
in a fresh directory holding a copy of ``examples/`` (the files the examples read). A block
that needs what a test cannot have (a running server, downloaded data, the network) is
preceded in the Markdown by an explicit ``<!-- skip-test: reason -->`` line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = r"(?:<!--\s*skip-test:\s*(?P<skip>[^>]*?)\s*-->\s*\n)?```(?:{langs})\n(?P<code>.*?)```"


def code_blocks(path: Path, langs: str = "python") -> list[tuple[int, str, str | None]]:
    """-> (line number, code, skip reason or None) per fenced block in one of ``langs``
    (a regex alternation, e.g. "sh|bash")."""
    text = path.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start("code")) + 1, m.group("code"), m.group("skip"))
        for m in re.finditer(_BLOCK.format(langs=langs), text, re.DOTALL)
    ]


def python_blocks(path: Path) -> list[tuple[int, str, str | None]]:
    return code_blocks(path, "python")


def test_the_block_finder_sees_skips_and_code(tmp_path):
    doc = tmp_path / "d.md"
    doc.write_text(
        "x\n```python\na = 1\n```\n<!-- skip-test: needs a server -->\n"
        "```python\nb = 2\n```\n```sh\nls\n```\n"
    )
    assert python_blocks(doc) == [(3, "a = 1\n", None), (7, "b = 2\n", "needs a server")]


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_code_blocks_run(doc, tmp_path, monkeypatch):
    blocks = python_blocks(doc)
    if not blocks:
        pytest.skip(f"{doc.name} has no python blocks")
    if "keras" in doc.read_text(encoding="utf-8"):
        monkeypatch.setenv("KERAS_BACKEND", "torch")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for line, code, skip in blocks:
        if skip:
            continue
        try:
            exec(compile(code, f"{doc.name}:{line}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"{doc.relative_to(ROOT)} line {line}: {type(exc).__name__}: {exc}")
    skips = [(line, skip) for line, _, skip in blocks if skip]
    assert len(skips) <= 2, f"{doc.name}: keep skips few: {skips}"


@pytest.mark.slow
def test_readme_shell_blocks_run(tmp_path):
    """README's ```sh blocks run as written, top to bottom, with `elmokit` on PATH (what a
    reader does after `make run`); a skipped one says why."""
    runnable = [
        (line, code) for line, code, skip in code_blocks(ROOT / "README.md", "sh|bash") if not skip
    ]
    assert runnable, "README has no runnable shell block"
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "ELMOKIT_OFFLINE": "1",
    }
    for line, code in runnable:
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, (
            f"README.md line {line}: rc {proc.returncode}\n{proc.stderr[-2000:]}"
        )
    assert (tmp_path / "out" / "mine.hdf5").stat().st_size > 0
