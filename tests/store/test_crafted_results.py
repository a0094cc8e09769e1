"""A results file is what people share: opening one must never run what it contains.

Each test starts from a real run's ``results.duckdb``, changes it the way an attacker could (a view
in place of a table, a macro, an alias bomb in the stored YAML) and shows that ``Results``,
``replay`` and the commands that open results refuse it in one line, read no other file and write
nothing; and that ``Results.sql`` reaches only the file's own tables.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from helpers import scslab
from scslab import PopulationSpec, Results, Scenario, Simulation
from scslab.analysis.replay import replay
from scslab.errors import ResourceError, ScslabError
from scslab.sweep import Sweep
from scslab.sweep.store import SweepStore

SECRET = "s3cret-token-4f9a"

#: 1 KB of YAML that expands to 10**9 values: plain ``yaml.safe_load`` takes minutes on it.
BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run, small and quick: 1,000 people for three months."""
    folder = tmp_path_factory.mktemp("made") / "run"
    sc = Scenario(
        scheme="rongcheng-2014", population=PopulationSpec(agents=1000), years=0.25, panel=20
    )
    Simulation(sc).run(folder).close()
    return folder / "results.duckdb"


def crafted(made: Path, tmp_path: Path, *sql: str) -> Path:
    """A copy of the run's file in its own folder, changed by ``sql`` with full access."""
    folder = tmp_path / "shared"
    folder.mkdir(parents=True)
    path = folder / "results.duckdb"
    shutil.copy(made, path)
    con = duckdb.connect(str(path))
    for statement in sql:
        con.execute(statement)
    con.close()
    return path


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def leaking_view(made: Path, tmp_path: Path, secret: Path) -> Path:
    """The issue's attack: ``runs`` replaced by a view whose scheme is a local file's text."""
    return crafted(
        made,
        tmp_path,
        "ALTER TABLE runs RENAME TO runs_data",
        "CREATE VIEW runs AS SELECT * REPLACE "
        f"((SELECT content FROM read_text('{secret}')) AS scheme) FROM runs_data",
    )


def test_the_crafted_view_does_leak_a_file_through_a_plain_read_only_connection(
    made: Path, tmp_path: Path, secret: Path
) -> None:
    """The attack is real: read-only DuckDB with default settings runs the view and reads the file.
    (Every test below is therefore about something that would otherwise happen.)"""
    path = leaking_view(made, tmp_path, secret)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT scheme FROM runs").fetchall() == [(SECRET,)]
    con.close()


@pytest.mark.parametrize(
    "command",
    [["report"], ["audit", "--json"], ["explain", "--agent", "0", "--json"]],
    ids=["report", "audit", "explain"],
)
def test_commands_refuse_a_file_with_a_view_in_one_line_and_write_nothing(
    made: Path, tmp_path: Path, secret: Path, command: list[str]
) -> None:
    path = leaking_view(made, tmp_path, secret)
    before = sorted(p.name for p in path.parent.iterdir())
    done = scslab(command[0], str(path.parent), *command[1:], cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "view 'runs'" in lines[0] and "Traceback" not in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert sorted(p.name for p in path.parent.iterdir()) == before  # no report.html


def test_results_refuse_views_and_macros_that_would_replace_a_table_or_a_function(
    made: Path, tmp_path: Path
) -> None:
    """A macro named ``max`` would change every ``max()`` in scslab's own queries."""
    path = crafted(made, tmp_path, "CREATE MACRO max(x) AS 42")
    with pytest.raises(ScslabError, match=r"holds macro 'max'; scslab reads only the tables"):
        Results(path)
    view = crafted(made, tmp_path / "v", "CREATE VIEW steps_too AS SELECT * FROM steps")
    with pytest.raises(ScslabError, match=r"holds view 'steps_too'"):
        Results(view)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE steps", r"the table 'steps' is missing"),
        ("ALTER TABLE runs DROP COLUMN agents", r"'runs' lacks the column\(s\) agents"),
    ],
    ids=["missing-table", "missing-column"],
)
def test_a_file_that_is_not_scslab_results_is_refused_in_one_line(
    made: Path, tmp_path: Path, sql: str, message: str
) -> None:
    with pytest.raises(ScslabError, match=message):
        Results(crafted(made, tmp_path, sql))
    junk = tmp_path / "junk" / "results.duckdb"
    junk.parent.mkdir()
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(ScslabError, match=r"cannot open the results file") as err:
        Results(junk)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("column", ["acts_yaml", "scheme_yaml", "scenario"])
def test_an_alias_bomb_in_the_stored_yaml_is_refused_before_it_expands(
    made: Path, tmp_path: Path, column: str
) -> None:
    """audit, report and explain replay the stored scenario, scheme and catalogue through the
    guarded loader, which stops at 200,000 values instead of building 10**9."""
    path = crafted(made, tmp_path, f"UPDATE runs SET {column} = $${BOMB}$$")
    with Results(path) as r, pytest.raises(ScslabError, match=r"expands to more than 200000"):
        replay(r)


def test_audit_refuses_a_stored_catalogue_alias_bomb_in_one_line(
    made: Path, tmp_path: Path
) -> None:
    path = crafted(made, tmp_path, f"UPDATE runs SET acts_yaml = $${BOMB}$$")
    done = scslab("audit", str(path.parent), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert "runs.acts_yaml" in done.stderr and "expands to more than" in done.stderr


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("SELECT * FROM read_text('{secret}')", "file system operations are disabled"),
        ("SELECT * FROM read_csv('{secret}')", "file system operations are disabled"),
        ("COPY (SELECT * FROM runs) TO '{out}'", "file system operations are disabled"),
        ("COPY (SELECT 1) TO '{db}.tmp/x.csv'", "file system operations are disabled"),
        ("EXPORT DATABASE '{folder}/export'", "file system operations are disabled"),
        ("ATTACH '{folder}/other.duckdb'", "file system operations are disabled"),
        ("SELECT * FROM 'https://example.com/data.csv'", "file system operations are disabled"),
        ("INSTALL httpfs", "file system operations are disabled"),
        ("LOAD httpfs", "Loading external extensions is disabled"),
        ("SET enable_external_access = true", "the configuration has been locked"),
        ("SET autoload_known_extensions = true", "the configuration has been locked"),
    ],
    ids=[
        "read_text",
        "read_csv",
        "copy",
        "copy-into-spill-folder",
        "export",
        "attach",
        "url",
        "install",
        "load",
        "unlock-files",
        "unlock-extensions",
    ],
)
def test_sql_reaches_only_the_files_own_tables(
    made: Path, tmp_path: Path, secret: Path, query: str, refusal: str
) -> None:
    """No file but the database, no network, no extension; and the settings cannot be undone."""
    (made.parent / "results.duckdb.tmp").mkdir(exist_ok=True)  # the spill folder, if it existed
    text = query.format(secret=secret, out=tmp_path / "out.csv", db=made, folder=tmp_path)
    with Results(made) as r:
        with pytest.raises(duckdb.Error, match=refusal):
            r.sql(text).fetchall()
        assert r.sql("SELECT count(*) FROM steps").fetchall()[0][0] > 0  # still usable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.txt"]
    assert not any((made.parent / "results.duckdb.tmp").iterdir())


def test_a_sweep_file_with_a_view_is_refused_before_anything_is_read(
    tmp_path: Path, secret: Path
) -> None:
    """sweep.duckdb is opened the same way: a rerun into a shared folder reads no other file."""
    folder = tmp_path / "sweep"
    folder.mkdir(parents=True)
    con = duckdb.connect(str(folder / "sweep.duckdb"))
    con.execute(f"CREATE VIEW sweep AS SELECT content AS identity FROM read_text('{secret}')")
    con.close()
    spec = Sweep.from_text(
        "base: {years: 0.25, panel: 0, population: {agents: 500}}\n"
        "parameters: {observation.camera_reach: {values: [1, 2]}}\n"
        "design: {kind: grid}\n"
        "outputs: [events.recorded]\n",
        source="spec.yaml",
    )
    with pytest.raises(ResourceError, match=r"holds view 'sweep'") as err:
        SweepStore.check(folder, spec)
    assert SECRET not in str(err.value)
