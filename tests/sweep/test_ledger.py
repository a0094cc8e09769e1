"""The assumption ledger: factors from every assumed number, and a ranking that finds the driver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scslab.engine.scenario import Scenario, load_scenario
from scslab.sweep.ledger import (
    HORIZON,
    LEDGER,
    Sizes,
    assumed_factors,
    build_ledger,
    headline_note,
    horizon,
)

#: One scored act drives the list; two others, just as frequent, are scored by nothing.
CATALOGUE = """\
channels:
  - id: court
    name: Court records
    false_record_ratio: 0.0
    source: a test catalogue
acts:
  - id: drive
    name: The act the scheme lists people for
    domain: finance
    lawful: false
    rate: 0.6
    channels: {court: 0.9}
    assumed: true
  - id: noise-a
    name: An act nothing scores
    domain: finance
    lawful: false
    rate: 0.6
    channels: {court: 0.9}
    assumed: true
  - id: noise-b
    name: Another act nothing scores
    domain: civic
    lawful: true
    rate: 0.6
    channels: {court: 0.9}
    ranges: {rate: [0.1, 3.0]}
    assumed: true
"""

SCHEME = """\
id: planted
name: One scored act
subject: individuals
description: A list entered by one act.
sources:
  paper: a test source
score: {base: 100, min: 0, max: 200, source: paper}
categories:
  - {id: finance, name: Finance, cap: 200, source: paper}
events:
  - {id: drive, category: finance, points: -10, domain: finance, source: paper}
grades:
  - {id: A, min: 100, max: 200, source: paper}
  - {id: B, min: 0, max: 99, source: paper}
lists:
  - id: black
    name: Black list
    kind: black
    entry: {events: [drive]}
    exit: {after_months: 60}
    source: paper
sanctions:
  - id: no-loans
    name: No loans
    trigger: {list: black}
    domain: finance
    effect: refused loans
    duration_months: 60
    source: paper
"""


def planted(tmp_path: Path, catalogue: str = CATALOGUE) -> Scenario:
    (tmp_path / "acts.yaml").write_text(catalogue, encoding="utf-8")
    (tmp_path / "planted.yaml").write_text(SCHEME, encoding="utf-8")
    (tmp_path / "scenario.yaml").write_text(
        "scheme: planted.yaml\nacts: acts.yaml\nyears: 0.5\npanel: 0\n"
        "population: {agents: 1000}\n"
        "adaptation: {deterrence: {enabled: false}, chilling: {enabled: false}}\n",
        encoding="utf-8",
    )
    return Scenario.from_yaml(tmp_path / "scenario.yaml")


def test_every_assumed_number_is_a_factor_or_listed_fixed(tmp_path: Path) -> None:
    """The three assumed rates are varied (the stated range kept, the others ×/÷ 1.5), the
    detection probabilities are listed as fixed with the reason, and nothing sourced appears."""
    factors = {f.name: f for f in assumed_factors(planted(tmp_path))}
    drive = factors["catalogue: acts.drive.rate"]
    assert drive.path == "rates.drive" and drive.scale == "log" and not drive.stated
    assert drive.low == pytest.approx(0.4) and drive.high == pytest.approx(0.9)
    noise_b = factors["catalogue: acts.noise-b.rate"]
    assert (noise_b.low, noise_b.high, noise_b.stated) == (0.1, 3.0, True)
    fixed = factors["catalogue: acts.drive.channels.court"]
    assert fixed.path is None and fixed.fixed == "no scenario setting reaches it yet"
    assert not any(name.startswith("scheme") for name in factors)  # all sourced
    assert not any("channels.court.false_record_ratio" in name for name in factors)  # sourced
    # switched-off adaptation is not varied; what stays on is
    assert "scenario: adaptation.deterrence.elasticity" not in factors
    assert factors["scenario: adaptation.list_entry_points"].path == "adaptation.list_entry_points"


def test_the_ledger_ranks_the_planted_driver_first(tmp_path: Path) -> None:
    """Only `drive` is scored, so list entries rest on its rate: Morris ranks it first for the
    list's entries, Sobol gives it most of their variance, and the note says so."""
    ledger = build_ledger(
        planted(tmp_path),
        tmp_path / "out",
        name="planted",
        outputs=("list_entries.black",),
        sizes=Sizes(agents=1000, years=0.5, trajectories=4, sobol_samples=8, top=2),
    )
    entry = ledger["outputs"]["list_entries.black"]
    ranking = entry["ranking"]
    assert ranking[0]["path"] == "rates.drive"
    assert ranking[0]["share_of_effects"] > 0.8
    assert ranking[0]["S1"] > 0.5
    assert entry["value"] > 0
    # hundreds of entries: the seed moves them far less than the drive rate's range does
    assert entry["sd_over_seeds"] < 0.5 * entry["sd_over_design"] and "warning" not in entry
    assert json.loads((tmp_path / "out" / LEDGER).read_text()) == ledger
    note = headline_note(ledger, "list_entries.black")
    assert note is not None and note.startswith(
        f"{min(ranking[0]['S1'], 1):.0%} of its variance from"
    )
    assert "rates.drive (assumed)" in note


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scslab", "assumptions", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agents", "0"], "--agents 0: give at least 100 people"),
        (["--trajectories", "1"], "--trajectories 1: Morris screening needs at least 2"),
        (["--sobol-samples", "12"], "--sobol-samples 12: give a power of two"),
        (["--top", "0"], "--top 0: give at least 1"),
        (["--workers", "0"], "--workers 0: give at least one worker"),
        (["--outputs", "list_entries.blak"], "did you mean 'list_entries.black'?"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path: Path, args: list[str], message: str) -> None:
    planted(tmp_path)
    done = run_cli("scenario.yaml", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_an_empty_stated_range_is_refused_where_it_is_written(tmp_path: Path) -> None:
    """`ranges: {rate: [0.6, 0.6]}` is an empty range: the catalogue is refused, one line."""
    planted(tmp_path, CATALOGUE.replace("[0.1, 3.0]", "[0.6, 0.6]"))
    done = run_cli("scenario.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "ranges.rate: [0.6, 0.6] is an empty range" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_suining_has_its_religious_practice_rate_among_the_factors() -> None:
    """The built-in suining-2010: its fitted published share and its record share are not
    assumptions; the assumed rate of religious practice and the heretical-activity deduction
    are factors."""
    every = assumed_factors(load_scenario("suining-2010"))
    factors = {f.path: f for f in every if f.varied}
    assert "observation.record_share" not in factors
    assert "observation.published_share" not in factors
    assert factors["rates.religious-practice"].value == 1.0
    heretical = next(f for f in every if f.name.endswith("events.heretical-activity.points"))
    if "scheme_values" in Scenario.model_fields:  # a scenario can set a scheme's assumed numbers
        assert heretical.path == "scheme_values.events.heretical-activity.points"
        assert (heretical.low, heretical.high) == pytest.approx((-75, -50 / 1.5))
    else:
        assert heretical.fixed == "no scenario setting reaches it yet"


def test_a_scheme_states_ranges_only_for_its_own_assumed_numbers(tmp_path: Path) -> None:
    """A scheme's rule may state a range for a number of its own, if assumed: an empty range,
    a number it lacks or a sourced rule's range is refused at its line."""
    from scslab.errors import SchemeError
    from scslab.schemes.loader import load_scheme

    assumed = SCHEME.replace(
        "  - {id: drive, category: finance, points: -10, domain: finance, source: paper}",
        "  - {id: drive, category: finance, points: -10, domain: finance, assumed: true,\n"
        "     ranges: {points: RANGE}}",
    )
    for bad, message in (
        ("[-5, -5]", "ranges.points: [-5, -5] is an empty range"),
        ("[-5, -20]", "ranges.points: [-5, -20] is an empty range"),
    ):
        (tmp_path / "s.yaml").write_text(assumed.replace("RANGE", bad), encoding="utf-8")
        with pytest.raises(SchemeError, match=r"s\.yaml:\d+:\d+") as err:
            load_scheme(tmp_path / "s.yaml")
        assert message in str(err.value)
    (tmp_path / "s.yaml").write_text(assumed.replace("RANGE", "[-30, -5]"), encoding="utf-8")
    (tmp_path / "planted.yaml").write_text(SCHEME, encoding="utf-8")
    scheme = load_scheme(tmp_path / "s.yaml")
    assert scheme.events[0].ranges == {"points": (-30.0, -5.0)}
    sourced = SCHEME.replace(
        "source: paper}\ngrades", "source: paper, ranges: {points: [-9, -1]}}\ngrades"
    )
    (tmp_path / "s.yaml").write_text(sourced, encoding="utf-8")
    with pytest.raises(SchemeError, match="only an assumed rule states ranges"):
        load_scheme(tmp_path / "s.yaml")


def test_audit_and_report_print_the_ledger_beside_the_headline_figures(tmp_path: Path) -> None:
    """A ledger beside a run's file (or named with --ledger) for the run's scheme: the audit's
    JSON carries each ranked output's note, the text audit and report.html print it; a ledger
    for another scheme named with --ledger is refused in one line."""
    scenario = planted(tmp_path)
    ledger = build_ledger(
        scenario,
        tmp_path / "run",
        name="planted",
        outputs=("audit.rights_share", "list_entries.black"),
        sizes=Sizes(agents=1000, years=0.5, trajectories=2, sobol_samples=4, top=1),
    )
    # audit.rights_share never varies here (nothing rights-tagged is scored): not ranked
    assert ledger["outputs"]["audit.rights_share"]["not_ranked"]
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "run", "scenario.yaml", "--out", "run", "--overwrite"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    audited = subprocess.run(
        [sys.executable, "-m", "scslab", "audit", "run", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert audited.returncode == 0, audited.stderr
    notes = json.loads(audited.stdout)["assumptions"]
    assert [n["output"] for n in notes] == ["list_entries.black"]
    assert notes[0]["top"][0]["path"] == "rates.drive"
    assert "of its variance from rates.drive (assumed)" in notes[0]["note"]
    text = subprocess.run(
        [sys.executable, "-m", "scslab", "report", "run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert text.returncode == 0, text.stderr
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "What the headline figures rest on" in page and "rates.drive (assumed)" in page
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**ledger, "scheme": "suining-2010"}), encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "scslab", "audit", "run", "--ledger", str(other)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert refused.returncode == 2
    assert "is for scheme 'suining-2010', not this run's 'planted'" in refused.stderr


def test_a_figure_of_a_few_events_is_flagged_as_noise(tmp_path: Path) -> None:
    """At 300 people and a rare driving act, list entries count a handful: the seed moves them
    about as much as the whole design, and the ledger says the ranking is mostly noise."""
    rare = CATALOGUE.replace(
        "rate: 0.6\n    channels: {court: 0.9}\n    assumed: true\n  - id: noise-a",
        "rate: RARE\n    channels: {court: 0.9}\n    assumed: true\n  - id: noise-a",
    ).replace("RARE", "0.01")
    assert rare != CATALOGUE
    ledger = build_ledger(
        planted(tmp_path, rare),
        tmp_path / "out",
        outputs=("list_entries.black",),
        sizes=Sizes(agents=300, years=1.0, trajectories=2, sobol_samples=2, top=1),
    )
    entry = ledger["outputs"]["list_entries.black"]
    assert entry["sd_over_seeds"] > 0.5 * entry["sd_over_design"]
    assert "the ranking is mostly noise" in entry["warning"]
    note = headline_note(ledger, "list_entries.black")
    assert note is not None and note.endswith("few events at the ledger's size: mostly noise")


def test_a_scenario_named_from_the_working_folder_keeps_its_scheme_and_catalogue(
    tmp_path: Path,
) -> None:
    """`scslab assumptions scenario.yaml` in the scenario's folder: its relative scheme and act
    catalogue are found from there, not from the output folder; --json prints the ledger."""
    planted(tmp_path)
    done = run_cli(
        "scenario.yaml",
        "--outputs",
        "list_entries.black",
        "--agents",
        "300",
        "--years",
        "0.5",
        "--trajectories",
        "2",
        "--sobol-samples",
        "2",
        "--top",
        "1",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    ledger = json.loads(done.stdout)
    assert ledger["scheme"] == "planted" and ledger["scenario"] == "scenario"
    assert ledger["years"] == 0.5 and ledger["horizon"] == "0.5 years, as asked (--years)"
    assert ledger["outputs"]["list_entries.black"]["ranking"][0]["path"] == "rates.drive"
    written = tmp_path / "runs" / "assumptions-scenario" / LEDGER
    assert json.loads(written.read_text()) == ledger


def test_a_short_scenario_is_ranked_over_the_ledgers_default_horizon() -> None:
    """suining-2010 runs 3 months, too few for anyone to be sanctioned: without --years the
    ledger's runs cover HORIZON years and say so; a scenario longer than that keeps its own, and
    --years overrides both."""
    short = load_scenario("suining-2010")
    assert short.years < HORIZON
    years, said = horizon(short, None)
    assert years == HORIZON and said.startswith(f"{HORIZON:g} years") and "0.25 years" in said
    long = short.model_copy(update={"years": 8.0})
    assert horizon(long, None) == (8.0, "the scenario's 8 years")
    assert horizon(short, 2.0) == (2.0, "2 years, as asked (--years)")
