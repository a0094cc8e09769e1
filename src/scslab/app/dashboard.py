# Panel's widget constructors are not annotated (param-based); calling them is fine.
"""A Panel dashboard: choose or upload a scheme, run it on a synthetic population, see the figures.

Every run goes to a new subfolder of the server's runs folder; the server reads and writes nothing
outside that folder (an uploaded scheme is validated in memory and saved into the run's subfolder).
Runs happen in a worker thread so that the progress bar moves while the months are computed.

Uploads are what a stranger can send, so: a file over :data:`MAX_UPLOAD` bytes is refused unread;
the rest is read and checked in a child process that is killed after :data:`PARSE_SECONDS`. A size
limit alone does not bound the time: reading and checking have slow corners (1.8 MB of misspelt
keys takes about half a minute, each getting a suggested spelling; a base-60 integer took time
growing with the square of its length until the loader refused long ones), and a thread could be
neither stopped nor kept from holding the interpreter's lock while the other sessions wait. The
page says why an upload was refused. Every string a user or a file can set (scheme ids, grade and
list ids, names, file names, error messages) is escaped before it is shown, so it reads as text
and never as HTML or Markdown.

Elements that the browser test looks for carry ``scs-*`` CSS classes.
"""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import panel as pn
from pydantic import ValidationError

from scslab.behaviour.model import Observation
from scslab.errors import ScslabError
from scslab.report import html as figures
from scslab.schemes.loader import builtin_names, load_scheme
from scslab.schemes.model import Scheme

DEFAULT_SCHEME = "rongcheng-2014"
BUILTIN = "built-in"
UPLOADED = "uploaded"

#: The largest scheme file the dashboard reads (the built-in schemes are under 20 KB).
MAX_UPLOAD = 2 * 2**20
#: Seconds an upload may take to be read and checked, in a child process killed when they are up.
PARSE_SECONDS = 5.0

#: The child process that reads an upload: the bytes on stdin, the label as argument, the result
#: (the scheme, or the one-line refusal) pickled on stdout.
_CHILD = """\
import pickle, sys
from scslab.errors import ScslabError
from scslab.schemes.loader import parse_scheme
try:
    out = ("ok", parse_scheme(sys.stdin.buffer.read(), sys.argv[1]))
except ScslabError as exc:
    out = ("refused", str(exc))
sys.stdout.buffer.write(pickle.dumps(out))
"""

#: Characters with a meaning in Markdown or HTML; CommonMark lets any of them be escaped.
_MARKUP = frozenset("\\`*_{}[]()<>#+-.!|&~\"'=:;$%^@/?,")


def text(value: object) -> str:
    """``value`` as Markdown that shows exactly its characters: no tag, link or emphasis."""
    out = []
    for c in str(value):
        if c in _MARKUP:
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\\n")  # a hard line break
        elif c != "\r":
            out.append(c)
    return "".join(out)


def _alert(message: str, kind: str, css: str) -> pn.pane.Alert:
    return pn.pane.Alert(text(message), alert_type=kind, css_classes=[css])


def check_upload(data: bytes, label: str) -> Scheme:
    """The scheme in an uploaded file, read in a child process; a one-line ``ScslabError`` if it
    is too big, takes longer than :data:`PARSE_SECONDS`, or is not a valid scheme."""
    if len(data) > MAX_UPLOAD:
        raise ScslabError(
            f"{label}: the file is {len(data) / 2**20:.1f} MB; the dashboard reads scheme files "
            f"of up to {MAX_UPLOAD // 2**20} MB"
        )
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, label],
            input=data,
            capture_output=True,
            timeout=PARSE_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise ScslabError(
            f"{label}: reading the file took longer than {PARSE_SECONDS:.0f} s and was stopped; "
            "a scheme file this slow to read holds something unusual (very long numbers, such "
            "as YAML's base-60 ones like 1:30:00?)"
        ) from None
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise ScslabError(
            f"{label}: the file could not be checked ({why[-1] if why else done.returncode})"
        )
    status, value = pickle.loads(done.stdout)  # our own child's answer
    if status != "ok":
        raise ScslabError(str(value))
    assert isinstance(value, Scheme)
    return value


def _summary_markdown(s: dict[str, Any]) -> str:
    agents = s["agents"]
    lines = [
        f"**{text(s['scheme'])}**: {agents:,} people, {s['steps']} months, "
        f"{s['seconds']:.1f} s ({s['status']})",
        "",
        "| measure | people | share |",
        "|---|---:|---:|",
    ]
    for g, share in s["grades"].items():
        lines.append(f"| grade {text(g)} | {round(share * agents):,} | {share:.2%} |")
    for name, key in (("list", "lists"), ("sanction", "sanctions"), ("reward", "rewards")):
        for k, n in s[key].items():
            lines.append(f"| {name}: {text(k)} | {n:,} | {n / agents:.2%} |")
    ev = s["events"]
    lines += [
        "",
        f"Events over the run: {ev['true']:,} true acts, {ev['recorded']:,} records, "
        f"of which {ev['false']:,} false.",
    ]
    net = s.get("network")
    if net:
        lines.append(
            f"Score assortativity of friendships: {net['assortativity_first']:.3f} in the first "
            f"month, {net['assortativity_last']:.3f} in the last; ties cut: {net['ties_cut']:,}."
        )
    return "\n".join(lines)


def _plot(fig: Any, css: str = "scs-figure") -> pn.pane.Plotly:
    return pn.pane.Plotly(fig, sizing_mode="stretch_width", css_classes=[css])


def report_figures(path: Path) -> tuple[dict[str, Any], list[Any]]:
    """The run's summary and the report's figures that have data, read from ``results.duckdb``."""
    from scslab.store.results import Results

    results = Results(path)
    try:
        summary = results.summary()
        figs = [
            figures.score_distribution(results),
            figures.grade_shares(results),
            figures.list_sizes(results),
            figures.consequences(results),
            figures.events(results),
        ]
    finally:
        results.close()
    return summary, [f for f in figs if f is not None]


class Dashboard:
    """One browser session's page. ``runs`` is the only folder it reads or writes."""

    def __init__(self, runs: Path) -> None:
        self.runs = runs.resolve()
        # the synthetic populations hold individuals; schemes for enterprises cannot run on them
        names = [n for n in builtin_names() if load_scheme(n).subject == "individuals"]
        default = DEFAULT_SCHEME if DEFAULT_SCHEME in names else names[0]
        self.source = pn.widgets.RadioButtonGroup(
            name="Scheme source",
            options=[BUILTIN, UPLOADED],
            value=BUILTIN,
            css_classes=["scs-source"],
        )
        self.scheme = pn.widgets.Select(
            name="Built-in scheme", options=names, value=default, css_classes=["scs-scheme"]
        )
        self.upload = pn.widgets.FileInput(
            name="Scheme file", accept=".yaml,.yml", multiple=False, css_classes=["scs-upload"]
        )
        self.scheme_status = pn.Column(css_classes=["scs-scheme-status"])
        self.agents = pn.widgets.IntInput(
            name="Population (people)", value=10_000, start=1, step=1000, css_classes=["scs-agents"]
        )
        self.years = pn.widgets.FloatInput(
            name="Years", value=1.0, start=1 / 12, end=100, step=1, css_classes=["scs-years"]
        )
        self.seed = pn.widgets.IntInput(name="Seed", value=0, start=0, css_classes=["scs-seed"])
        self.false_match = pn.widgets.FloatInput(
            name="Camera false-match rate (empty: the catalogue's)",
            value=None,
            start=0,
            end=1,
            step=0.001,
            css_classes=["scs-false-match"],
        )
        self.camera_reach = pn.widgets.FloatInput(
            name="Camera reach (coverage = 1 − exp(−reach × cameras per person))",
            value=Observation().camera_reach,
            start=0,
            end=1000,
            step=0.5,
            css_classes=["scs-camera-reach"],
        )
        self.deterrence = pn.widgets.Checkbox(
            name="Deterrence (fewer scored offences)", value=True, css_classes=["scs-deterrence"]
        )
        self.chilling = pn.widgets.Checkbox(
            name="Chilling (less scored lawful activity)", value=True, css_classes=["scs-chilling"]
        )
        self.network = pn.widgets.Checkbox(
            name="Friendship network", value=False, css_classes=["scs-network"]
        )
        self.tie_cutting = pn.widgets.Checkbox(
            name="Tie-cutting (needs the network)", value=False, css_classes=["scs-tie-cutting"]
        )
        self.run_button = pn.widgets.Button(
            name="Run", button_type="primary", css_classes=["scs-run"]
        )
        self.progress = pn.indicators.Progress(
            name="Progress",
            value=0,
            max=1,
            sizing_mode="stretch_width",
            css_classes=["scs-progress"],
        )
        self.status = pn.pane.Markdown("", css_classes=["scs-status"])
        self.message = pn.Column(css_classes=["scs-message"])
        self.results = pn.Column(sizing_mode="stretch_width", css_classes=["scs-results"])

        others = [n for n in names if n != default]
        self.other_scheme = pn.widgets.Select(
            name="Second scheme",
            options=names,
            value=others[0] if others else default,
            css_classes=["scs-compare-scheme"],
        )
        self.compare_button = pn.widgets.Button(
            name="Compare", button_type="primary", css_classes=["scs-compare"]
        )
        self.compare_results = pn.Column(
            sizing_mode="stretch_width", css_classes=["scs-compare-results"]
        )

        self._uploaded: tuple[bytes, Scheme] | None = None
        self.upload.param.watch(self._on_upload, "value")
        self.run_button.on_click(self._on_run)
        self.compare_button.on_click(self._on_compare)

    # -- scheme choice -------------------------------------------------------------------------

    async def _on_upload(self, event: Any) -> None:
        """Check an upload in a child process, while the server goes on serving every session."""
        data = event.new
        if not data:
            return
        label = Path(self.upload.filename or "uploaded.yaml").name
        self._uploaded = None
        self.scheme_status.objects = [_alert(f"{label}: checking…", "info", "scs-scheme-checking")]
        try:
            scheme = await asyncio.get_running_loop().run_in_executor(
                None, check_upload, bytes(data), label
            )
        except ScslabError as exc:
            self.scheme_status.objects = [_alert(str(exc), "danger", "scs-scheme-error")]
            return
        self._uploaded = (bytes(data), scheme)
        self.source.value = UPLOADED
        self.scheme_status.objects = [
            _alert(f"{label}: scheme '{scheme.id}' is valid", "success", "scs-scheme-ok")
        ]

    def _new_folder(self, label: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)[:40]
        folder = self.runs / f"{stamp}-{safe}-{uuid.uuid4().hex[:6]}"
        folder.mkdir(parents=True, exist_ok=False)
        return folder

    def _scheme_spec(self, folder: Path) -> tuple[str, Scheme | None]:
        """The scenario's scheme: a built-in name, or the upload saved into ``folder``."""
        if self.source.value != UPLOADED:
            return str(self.scheme.value), None
        if self._uploaded is None:
            raise ScslabError("upload a valid scheme file first, or choose a built-in scheme")
        data, scheme = self._uploaded
        path = folder / "scheme.yaml"
        path.write_bytes(data)
        return str(path), scheme

    def scenario(self, scheme: str) -> Any:
        """The scenario that the widgets describe, checked as the CLI checks it."""
        from scslab.engine.scenario import Scenario
        from scslab.errors import ScenarioError
        from scslab.population.network import NetworkSpec

        agents, years, seed = self.agents.value, self.years.value, self.seed.value
        if agents is None or agents <= 0:
            raise ScenarioError(f"population {agents}: give at least one person")
        if years is None or years <= 0:
            raise ScenarioError(f"years {years}: give a positive number of years")
        if seed is None or seed < 0:
            raise ScenarioError(f"seed {seed}: give a seed of 0 or more")
        base = Scenario()
        updates: dict[str, Any] = {
            "scheme": scheme,
            "years": float(years),
            "seed": int(seed),
            "population": base.population.model_copy(update={"agents": int(agents)}),
            "network": NetworkSpec() if self.network.value else None,
        }
        observation: dict[str, Any] = {"camera_reach": float(self.camera_reach.value or 0.0)}
        if self.false_match.value is not None:
            observation["camera_false_match_rate"] = float(self.false_match.value)
        updates["observation"] = base.observation.model_copy(update=observation)
        adaptation = base.adaptation
        updates["adaptation"] = adaptation.model_copy(
            update={
                "deterrence": adaptation.deterrence.model_copy(
                    update={"enabled": bool(self.deterrence.value)}
                ),
                "chilling": adaptation.chilling.model_copy(
                    update={"enabled": bool(self.chilling.value)}
                ),
                "tie_cutting": adaptation.tie_cutting.model_copy(
                    update={"enabled": bool(self.tie_cutting.value)}
                ),
            }
        )
        try:
            return Scenario.model_validate({**base.model_dump(), **updates})
        except ValidationError as exc:
            raise ScenarioError(
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            ) from None

    # -- running -------------------------------------------------------------------------------

    def _set_progress(self, done: int, total: int) -> None:
        self.progress.max = max(1, total)
        self.progress.value = min(done, total)

    def _run(self, progress: Callable[[int, int], None]) -> Path:
        from scslab.runs import Simulation

        label = self.scheme.value if self.source.value != UPLOADED else "uploaded"
        folder = self._new_folder(str(label))
        spec, scheme = self._scheme_spec(folder)
        sim = Simulation(self.scenario(spec), scheme=scheme)
        sim.check_memory()
        results = sim.run(folder / "results", progress=progress)
        path = results.path
        results.close()
        return path

    async def _busy(self, work: Callable[[], Any]) -> Any:
        """Run ``work`` in a worker thread with the buttons off; show a user's mistake."""
        self.run_button.disabled = self.compare_button.disabled = True
        self.message.objects = []
        self.progress.value = 0
        try:
            return await asyncio.get_running_loop().run_in_executor(None, work)
        except ScslabError as exc:
            self.message.objects = [_alert(str(exc), "danger", "scs-error")]
            self.status.object = "failed"
            return None
        finally:
            self.run_button.disabled = self.compare_button.disabled = False

    async def _on_run(self, event: Any) -> None:
        self.status.object = "running…"
        self.results.objects = []
        path = await self._busy(lambda: self._run(self._set_progress))
        if path is None:
            return
        summary, figs = report_figures(path)
        self.status.object = f"done: `{path.relative_to(self.runs)}`"
        self.results.objects = [
            pn.pane.Markdown(_summary_markdown(summary), css_classes=["scs-summary"]),
            *(_plot(f) for f in figs),
        ]

    def _compare(self) -> dict[str, Any]:
        from scslab.analysis.compare import compare

        folder = self._new_folder("compare")
        spec, _ = self._scheme_spec(folder)
        first = spec
        second = str(self.other_scheme.value)
        base = self.scenario(first)

        def step(name: str, done: int, total: int) -> None:
            k = 0 if name == first else 1
            self._set_progress(k * total + done, 2 * total)

        return compare([first, second], base, folder / "compare", progress=step)

    async def _on_compare(self, event: Any) -> None:
        self.status.object = "comparing…"
        self.compare_results.objects = []
        out = await self._busy(self._compare)
        if out is None:
            return
        columns = []
        for scheme_id, row in out["schemes"].items():
            path = Path(row["path"])
            _, figs = report_figures(path)
            keep = figs[:2]  # the score distribution and the grade shares
            table = "\n".join(
                ["| measure | value |", "|---|---:|"]
                + [
                    f"| {text(k.replace('_', ' '))} | {v:.4g} |"
                    if isinstance(v, float)
                    else f"| {text(k.replace('_', ' '))} | {text(v) if v is not None else '—'} |"
                    for k, v in row.items()
                    if k not in ("path", "kind", "layer", "from", "until")  # what the column is
                ]
            )
            columns.append(
                pn.Column(
                    pn.pane.Markdown(f"### {text(scheme_id)}\n\n{table}"),
                    *(_plot(f, "scs-compare-figure") for f in keep),
                    sizing_mode="stretch_width",
                )
            )
        self.status.object = "comparison done"
        self.compare_results.objects = [pn.Row(*columns, sizing_mode="stretch_width")]

    # -- page ----------------------------------------------------------------------------------

    def view(self) -> pn.viewable.Viewable:
        controls = pn.Column(
            "## Scheme",
            self.source,
            self.scheme,
            self.upload,
            self.scheme_status,
            "## Scenario",
            self.agents,
            self.years,
            self.seed,
            self.false_match,
            self.camera_reach,
            self.deterrence,
            self.chilling,
            self.network,
            self.tie_cutting,
            self.run_button,
            self.progress,
            self.status,
            self.message,
            width=340,
        )
        tabs = pn.Tabs(
            ("Run", self.results),
            ("Compare", pn.Column(self.other_scheme, self.compare_button, self.compare_results)),
            sizing_mode="stretch_width",
            css_classes=["scs-tabs"],
        )
        return pn.Column(
            pn.pane.Markdown(
                f"# scslab dashboard\nSynthetic populations only. Runs are kept in `{self.runs}`.",
            ),
            pn.Row(controls, tabs, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )


def create_app(runs: Path) -> Callable[[], pn.viewable.Viewable]:
    """A function that builds one session's page (``pn.serve`` calls it per browser tab)."""
    runs = runs.resolve()
    runs.mkdir(parents=True, exist_ok=True)

    def page() -> pn.viewable.Viewable:
        pn.extension("plotly")  # load Plotly's JavaScript (served locally) before any figure
        return Dashboard(runs).view()

    return page
