"""Every code block of the README and ``doc/`` runs as written and shows what it prints.

A page is read as a reader reads it, top to bottom: its ``python`` blocks run in order
in one namespace, so a later block may use what an earlier one defined (and nothing
else: no fixture is injected). A ``text`` block right after a ``python`` block is that
block's output, compared with what it prints. ``bash`` blocks that run the main job
(``python -m sklearn_multigran ...``) run too, from the repository root; those that
name files from ``../shared`` skip where it is absent. Installation commands are run by
CI, not here.
"""

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "doc").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", flags=re.S | re.M)


def code_blocks(text):
    """``(language, code, expected output or None)`` for every fenced block."""
    fences = [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]
    blocks = []
    for k, (language, code) in enumerate(fences):
        if language == "text":
            continue
        following = fences[k + 1] if k + 1 < len(fences) else None
        expected = following[1] if following and following[0] == "text" else None
        blocks.append((language, code, expected))
    return blocks


def _page_id(page):
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_python_blocks_run_as_written(page, monkeypatch, tmp_path):
    blocks = [b for b in code_blocks(page.read_text()) if b[0] == "python"]
    if not blocks:
        pytest.skip(f"{_page_id(page)} has no python block")
    # blocks that write files write them here, not into the checkout
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for k, (_, code, expected) in enumerate(blocks):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"{_page_id(page)} block {k + 1}", "exec"), namespace)
        if expected is not None:
            assert printed.getvalue().rstrip() == expected.rstrip(), (
                f"{_page_id(page)} block {k + 1} prints something else than it shows"
            )


def _main_job_commands():
    for page in PAGES:
        for language, code, _ in code_blocks(page.read_text()):
            if language != "bash":
                continue
            for line in code.splitlines():
                command = line.split("#", 1)[0].strip()
                if command.startswith("python -m sklearn_multigran"):
                    yield pytest.param(command, id=f"{_page_id(page)}: {command}")


@pytest.mark.parametrize("command", list(_main_job_commands()))
def test_main_job_commands_run_as_written(command, tmp_path):
    args = shlex.split(command)
    for arg in args:
        if arg.startswith("../shared/") and not (ROOT / arg).exists():
            pytest.skip(f"{arg} is not here")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    # the plot goes to a scratch directory, the data is read from the checkout
    args = [
        str(ROOT / a) if a.startswith("../shared/") else a
        for a in [sys.executable, *args[1:]]
    ]
    done = subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip(), "the main job printed nothing"
