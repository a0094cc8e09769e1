"""`scslab export`: a run's tables as Parquet or CSV files, whole or not at all."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb
import pytest

from scslab import PopulationSpec, Scenario, Simulation
from scslab.errors import ResourceError, ScslabError
from scslab.store.export import export, tables_of


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run, small and quick: 1,000 people for three months."""
    folder = tmp_path_factory.mktemp("export") / "run"
    sc = Scenario(
        scheme="rongcheng-2014", population=PopulationSpec(agents=1000), years=0.25, panel=20
    )
    Simulation(sc).run(folder).close()
    return folder


def _table(run: Path, table: str) -> tuple[list[str], int]:
    con = duckdb.connect(str(run / "results.duckdb"), read_only=True)
    try:
        columns = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]
        rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
    finally:
        con.close()
    return columns, int(rows)


def _cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    from scslab.cli import main

    monkeypatch.setattr(sys, "argv", ["scslab", *args])
    try:
        main()
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def test_every_table_goes_to_parquet_with_its_rows_and_columns(run: Path) -> None:
    """By default every table of the file is written to RUN/export as TABLE.parquet."""
    written = export(run)
    tables = tables_of(run)
    assert {"runs", "steps", "panel"} <= set(tables)
    assert written == [run / "export" / f"{t}.parquet" for t in tables]
    con = duckdb.connect()
    for table, path in zip(tables, written, strict=True):
        columns, rows = _table(run, table)
        got = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
        assert [d[0] for d in got.description] == columns
        assert len(got.fetchall()) == rows
    assert not [p for p in (run / "export").iterdir() if p.name.startswith(".")]


def test_csv_of_chosen_tables_through_the_command(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--format csv --tables steps,panel --out DIR` writes those two, with a header row."""
    out = tmp_path / "csv"
    code = _cli(
        monkeypatch,
        "export",
        str(run),
        "--format",
        "csv",
        "--tables",
        "steps,panel",
        "--out",
        str(out),
    )
    assert code == 0
    assert capsys.readouterr().out.split() == [str(out / "steps.csv"), str(out / "panel.csv")]
    assert sorted(p.name for p in out.iterdir()) == ["panel.csv", "steps.csv"]
    columns, rows = _table(run, "steps")
    lines = (out / "steps.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",") == columns
    assert len(lines) == rows + 1


def test_an_unknown_table_or_format_is_one_line_and_writes_nothing(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table the file does not hold, or a format we do not write: status 2, one line."""
    out = tmp_path / "out"
    for args in (["--tables", "steps,nope"], ["--format", "xlsx"]):
        code = _cli(monkeypatch, "export", str(run), "--out", str(out), *args)
        err = capsys.readouterr().err
        assert code == 2
        assert err.count("\n") == 1, err
        assert ("--tables nope" in err) or ("--format xlsx" in err)
        assert not out.exists()


def test_a_failed_export_leaves_what_was_there(run: Path, tmp_path: Path) -> None:
    """Files are swapped in only when every table is written: a refused name leaves the old
    files as they were and no hidden file behind."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "steps.csv").write_text("old steps\n")
    (out / "other.txt").write_text("elsewhere\n")
    (out / "panel.csv").symlink_to(out / "other.txt")  # never written through
    with pytest.raises(ResourceError, match="symbolic link"):
        export(run, fmt="csv", tables=["steps", "panel"], out=out)
    assert (out / "steps.csv").read_text() == "old steps\n"
    assert (out / "other.txt").read_text() == "elsewhere\n"
    assert sorted(p.name for p in out.iterdir()) == ["other.txt", "panel.csv", "steps.csv"]
    # and a second export replaces an old file whole
    (out / "panel.csv").unlink()
    export(run, fmt="csv", tables=["steps"], out=out)
    assert (out / "steps.csv").read_text().startswith("step,")


def test_a_file_holding_a_view_is_refused(run: Path, tmp_path: Path) -> None:
    """The results file is opened as any shared file is: one with a view is not exported."""
    path = tmp_path / "shared" / "results.duckdb"
    path.parent.mkdir()
    shutil.copy(run / "results.duckdb", path)
    con = duckdb.connect(str(path))
    con.execute("CREATE VIEW sneaky AS SELECT 1 AS x")
    con.close()
    with pytest.raises(ScslabError, match="view 'sneaky'"):
        export(path, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_layered_run_exports_its_layers_tables_together(tmp_path: Path) -> None:
    """A layered run's folder exports `layers.duckdb`: `steps` and `flows` of every layer, each
    row with its layer, as many rows as that file holds; without it (a run stopped before its
    end) the export is refused in one line and points to the layers' own folders."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.layered import run_layered
    from scslab.store.layered import TOGETHER

    sc = Scenario.model_validate(
        {
            "population": {"agents": 1000},
            "years": 0.25,
            "panel": 20,
            "layers": [
                {"id": "spc", "scheme": "defaulter-blacklist"},
                {"id": "city", "scheme": "suining-2010", "where": ["city-centre"]},
            ],
        }
    )
    folder = tmp_path / "run"
    run_layered(LayeredSimulation(sc), folder)
    written = export(folder, fmt="csv")
    assert [p.name for p in written] == ["flows.csv", "steps.csv"]
    con = duckdb.connect(str(folder / TOGETHER), read_only=True)
    try:
        for name in ("steps", "flows"):
            rows = con.execute(f"SELECT layer, count(*) FROM {name} GROUP BY layer").fetchall()
            got = duckdb.sql(
                f"SELECT layer, count(*) FROM read_csv('{folder / 'export' / name}.csv') "
                "GROUP BY layer"
            ).fetchall()
            assert sorted(got) == sorted(rows)
            if name == "steps":
                assert {r[0] for r in rows} == {"spc", "city"}
    finally:
        con.close()
    (folder / TOGETHER).unlink()
    with pytest.raises(ScslabError, match=r"without layers\.duckdb .* export one layer"):
        export(folder)
