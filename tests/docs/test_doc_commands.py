"""Every command shown in README.md and docs/*.md runs, so an example that stops working fails.

How blocks are found: markdown-it-py, the CommonMark parser that rich already depends on, yields
each fenced block with its language and line numbers; no parser of our own. pytest-examples and
phmdoctest only run Python blocks, and most of our examples are shell commands.

What runs (one test per command or block, named ``FILE:LINE command``):

- A ```console block: each line that starts with ``$ `` is a command, run by ``bash -c``; a line
  ending in ``\\`` continues on the next. Other lines are sample output and are not compared.
  A console block with no ``$ `` line fails: every command must be visible as one.
- A ```python block: run by ``python -c``, as if pasted at the prompt or into a notebook cell (a
  script file that starts Dask workers would need ``if __name__ == "__main__":``).
- A ```bash, ```sh or ```shell block fails: commands belong in ```console blocks with prompts.
- Other blocks (yaml, sql, text, output) are not commands and are not run.

Where: the commands of one file run in document order in one fresh working folder, so that
``scslab run ... --out runs/x`` then ``scslab report runs/x`` works. The folder holds a copy of
``examples/`` and a link ``.venv`` to this checkout's virtual environment, whose ``bin`` comes
first on ``PATH``: ``scslab`` and ``python`` are the installed entry points, and
``source .venv/bin/activate`` works as the README says.

Status: a command must exit 0, unless its line says ``(exit status N)``, then N.

The one scaling rule (:func:`scaled`), for commands that show sizes CI cannot afford: ``--agents N``
above ``SCSLAB_DOC_AGENTS`` (default 20,000) runs with that many, and a sweep spec copied from
``examples/`` has its Sobol/random ``samples:`` capped at ``SCSLAB_DOC_SAMPLES`` (default 4). Such
a test's id ends in ``[scaled ...]``.

Skips (:data:`NOT_RUN`): commands that need something a test machine lacks (a Dask scheduler at a
named address, SLURM, Kubernetes), that never end (a server), or that would run the test suite
from inside itself. Each is reported as skipped, and its id names why.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
BIN = Path(sys.executable).parent
DOC_AGENTS = int(os.environ.get("SCSLAB_DOC_AGENTS", "20000"))
DOC_SAMPLES = int(os.environ.get("SCSLAB_DOC_SAMPLES", "4"))
TIMEOUT_S = 600

#: Commands and blocks that are shown but not run here, and why (the first match names the reason).
NOT_RUN: list[tuple[str, str]] = [
    (r"^make (run|test)\b", "sets up this checkout; make test runs this very test"),
    (r"(^|\s)(\.venv/bin/)?(pytest|python) +tests/", "runs the test suite's own files"),
    (r"\bscslab serve\b", "a server: runs until stopped (tests/app drives it)"),
    (
        r"\bscslab calibrate (firms|corporate-scs|spc-defaulters)\b",
        "a whole calibration, many minutes of runs (docs/calibration.md's tiny one runs)",
    ),
    (r"dask_jobqueue|SLURMCluster|scheduler\.py", "needs SLURM"),
    (r"tcp://", "needs a Dask scheduler at that address"),
    (r"kubectl|helm ", "needs Kubernetes"),
]


#: Shell block languages that are refused: commands go in ```console blocks with `$ ` prompts.
SHELLS = ("bash", "sh", "shell", "zsh", "shell-session")


def docs() -> list[Path]:
    """README.md and every Markdown file under docs/, found anew on each run."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@dataclass
class Step:
    """One thing to run: a console command or a Python block."""

    doc: Path
    line: int
    kind: str  # "console" or "python"
    text: str  # the command as shown, or the block's code
    status: int = 0
    skip: str | None = None
    scaled_text: str = ""
    note: str = ""

    @property
    def id(self) -> str:
        where = f"{self.doc.relative_to(ROOT)}:{self.line}"
        shown = self.text.split("#")[0].strip() if self.kind == "console" else "python block"
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        tail = f" [skipped: {self.skip}]" if self.skip else (f" [{self.note}]" if self.note else "")
        return f"{where} {shown}{tail}"


def scaled(command: str) -> tuple[str, str]:
    """The command with ``--agents`` capped at DOC_AGENTS, and a note saying so (or '')."""
    notes: list[str] = []

    def cap(m: re.Match[str]) -> str:
        n = int(m.group(2).replace("_", "").replace(",", ""))
        if n <= DOC_AGENTS:
            return m.group(0)
        notes.append(f"scaled --agents {n} -> {DOC_AGENTS}")
        return f"{m.group(1)}{DOC_AGENTS}"

    return re.sub(r"(--agents[ =])([\d_,]+)", cap, command), "; ".join(notes)


def _reason(text: str) -> str | None:
    for pattern, why in NOT_RUN:
        if re.search(pattern, text, re.MULTILINE):
            return why
    return None


def _console(doc: Path, first: int, body: str) -> Iterator[Step]:
    lines = body.split("\n")
    found = False
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        i += 1
        if not line.startswith("$ "):
            continue
        found = True
        command = line[2:]
        while command.endswith("\\") and i < len(lines):
            command = command[:-1] + " " + lines[i].strip()
            i += 1
        status = re.search(r"\(exit status (\d+)\)", command)
        step = Step(doc, first + start, "console", command, int(status.group(1)) if status else 0)
        step.skip = _reason(command)
        if "jq " in command and shutil.which("jq") is None:
            step.skip = "jq is not installed"
        step.scaled_text, step.note = scaled(command)
        yield step
    if not found:
        yield Step(doc, first, "console", "<no $ command>", skip=None, note="no-prompt")


def steps(doc: Path) -> list[Step]:
    """Every console command and Python block of one document, in order."""
    out: list[Step] = []
    for token in MarkdownIt("commonmark").parse(doc.read_text(encoding="utf-8")):
        if token.type != "fence" or token.map is None:
            continue
        lang = token.info.strip().split(" ")[0]
        first = token.map[0] + 2  # 1-based line of the block's first content line
        if lang == "console":
            out.extend(_console(doc, first, token.content))
        elif lang in SHELLS:  # commands must be ```console with `$ ` prompts, or they would not run
            out.append(Step(doc, first - 1, "console", f"<```{lang} block>", note="no-prompt"))
        elif lang in ("python", "py"):
            step = Step(doc, first - 1, "python", token.content, skip=_reason(token.content))
            step.scaled_text = token.content
            out.append(step)
    return out


ALL = [s for d in docs() for s in steps(d)]


@dataclass
class Workspace:
    """The working folder of one document, and how far through its steps it has got."""

    path: Path
    done: int = 0
    results: dict[int, subprocess.CompletedProcess[str]] = field(default_factory=dict)


def _prepare(path: Path) -> None:
    shutil.copytree(ROOT / "examples", path / "examples")
    for spec in (path / "examples").glob("sweep*.yaml"):
        text = spec.read_text(encoding="utf-8")
        text = re.sub(
            r"^(\s*samples:\s*)(\d+)",
            lambda m: m.group(1) + str(min(int(m.group(2)), DOC_SAMPLES)),
            text,
            flags=re.MULTILINE,
        )
        spec.write_text(text, encoding="utf-8")
    (path / ".venv").symlink_to(VENV, target_is_directory=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("NUMBA_NUM_THREADS", "2")
    env["COLUMNS"] = "100"
    return env


def _run(step: Step, cwd: Path) -> subprocess.CompletedProcess[str]:
    if step.kind == "python":
        argv = [str(BIN / "python"), "-c", step.scaled_text]
    else:
        argv = ["bash", "-c", step.scaled_text]
    return subprocess.run(
        argv,
        cwd=cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def workspaces() -> Iterator[dict[Path, Workspace]]:
    assert (BIN / "scslab").exists(), f"no scslab beside {sys.executable}: use the venv's pytest"
    made: dict[Path, Workspace] = {}
    with tempfile.TemporaryDirectory(prefix="scslab-docs-") as tmp:
        for doc in docs():
            path = Path(tmp) / doc.relative_to(ROOT).as_posix().replace("/", "__")
            path.mkdir()
            _prepare(path)
            made[doc] = Workspace(path)
        yield made


def test_the_harness_finds_every_document_and_commands_in_the_readme() -> None:
    """README.md and each docs/*.md are searched; the README's tour is found command by command."""
    found = {s.doc for s in ALL}
    assert ROOT / "README.md" in found
    readme = [s for s in ALL if s.doc.name == "README.md" and s.kind == "console"]
    assert any(s.text.startswith("scslab schemes list") for s in readme)
    assert scaled("scslab run --agents 2000000 --years 1")[0] == (
        f"scslab run --agents {DOC_AGENTS} --years 1"
    )
    assert scaled("scslab run --agents 5000")[1] == ""


@pytest.mark.slow
@pytest.mark.parametrize("step", ALL, ids=[s.id for s in ALL])
def test_doc_command_runs(step: Step, workspaces: dict[Path, Workspace]) -> None:
    """The command exits with the status its document shows (0 unless it says otherwise)."""
    if step.note == "no-prompt":
        pytest.fail(
            f"{step.doc.relative_to(ROOT)}:{step.line}: a shell block with no '$ ' command; "
            "write commands in a ```console block, each after '$ ', so that they are run"
        )
    if step.skip:
        pytest.skip(step.skip)
    ws = workspaces[step.doc]
    mine = [s for s in ALL if s.doc == step.doc]
    index = mine.index(step)
    # Run what comes before in this document first, when a test is selected on its own.
    for k in range(ws.done, index):
        earlier = mine[k]
        if not earlier.skip and earlier.note != "no-prompt" and k not in ws.results:
            ws.results[k] = _run(earlier, ws.path)
    result = _run(step, ws.path)
    ws.results[index] = result
    ws.done = max(ws.done, index + 1)
    shown = step.scaled_text if step.kind == "console" else "the python block"
    assert result.returncode == step.status, (
        f"{step.doc.relative_to(ROOT)}:{step.line}: `{shlex.quote(shown)}` exited "
        f"{result.returncode}, the document shows {step.status}\n"
        f"--- stdout (end)\n{result.stdout[-3000:]}\n--- stderr (end)\n{result.stderr[-3000:]}"
    )


def test_the_harness_reads_prompts_continuations_statuses_and_skips(tmp_path: Path) -> None:
    """Only `$ ` lines are commands; `\\` continues one; `(exit status N)` sets the status; a
    command that needs a cluster is skipped with its reason; a ```bash block is refused."""
    doc = tmp_path / "x.md"
    doc.write_text(
        "# x\n\n```console\n$ scslab run --agents 5000000 \\\n    --years 1\noutput line\n"
        "$ scslab resume runs/x   # (exit status 2)\n"
        "$ scslab run --shards 2 --cluster tcp://h:8786\n```\n\n"
        "```bash\nscslab schemes list\n```\n\n```python\nprint(1)\n```\n",
        encoding="utf-8",
    )
    found = steps(doc)
    assert [s.kind for s in found] == ["console", "console", "console", "console", "python"]
    run, resume, cluster, bash, python = found
    assert run.text == "scslab run --agents 5000000  --years 1" and run.line == 4
    assert run.scaled_text.startswith(f"scslab run --agents {DOC_AGENTS} ") and run.note
    assert resume.status == 2 and cluster.skip == "needs a Dask scheduler at that address"
    assert bash.note == "no-prompt" and python.text == "print(1)\n" and python.skip is None
