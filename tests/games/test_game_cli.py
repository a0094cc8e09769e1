"""``scslab game`` as a user meets it: JSON in every observation mode, a table, clear refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from scslab.cli.game import game
from scslab.errors import ScslabError

KEYS = {
    "good_fraction",
    "cooperation",
    "good_fraction_by_strategy",
    "payoff_by_strategy",
    "settings",
}


class Done:
    """What a user sees: status (2 for a ScslabError, as ``scslab.cli.main`` exits), out, err."""

    def __init__(self, args: list[str]) -> None:
        app = typer.Typer()
        app.command()(game)
        app.command(name="unused")(lambda: None)  # keeps "game" a subcommand, as in scslab
        result = CliRunner().invoke(app, ["game", *args])
        self.stdout, self.stderr = result.stdout, result.stderr
        if isinstance(result.exception, ScslabError):
            self.returncode, self.stderr = 2, f"error: {result.exception}"
        else:
            assert result.exception is None or isinstance(result.exception, SystemExit), (
                result.exception
            )
            self.returncode = result.exit_code


def scslab(*args: str) -> Done:
    return Done(list(args))


@pytest.mark.parametrize(
    "mode",
    [
        ["--observation", "public"],
        ["--observation", "private", "--q-obs", "0.2"],
        ["--observation", "institution", "--institution-size", "7", "--strictness", "0.6"],
    ],
)
def test_json_prints_the_four_figures_in_every_observation_mode(mode: list[str]) -> None:
    """stdout is one JSON object with exactly the documented keys, by the strategies named."""
    done = scslab(
        *mode,
        "--norm", "L2",
        "--agents", "300",
        "--steps", "60",
        "--strategies", "disc=0.6,allc=0.2,alld=0.2",
        "--e1", "0.02",
        "--e2", "0.05",
        "--b", "3",
        "--c", "1",
        "--evolve",
        "--seed", "4",
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == KEYS
    assert 0 < out["good_fraction"] <= 1 and 0 < out["cooperation"] <= 1
    assert set(out["good_fraction_by_strategy"]) == {"disc", "allc", "alld"}
    assert set(out["payoff_by_strategy"]) == {"disc", "allc", "alld"}
    by = out["good_fraction_by_strategy"]
    if by["disc"] is not None and by["alld"] is not None:
        assert by["disc"] > by["alld"]  # under L2 defectors are judged bad


def test_json_echoes_every_setting_used() -> None:
    """Every setting of the game comes back under "settings", the burn-in as the rounds left
    out, so that a figure can be rerun from its JSON alone."""
    done = scslab(
        "--observation", "institution", "--institution-size", "3", "--strictness", "0.4",
        "--institution-protocol", "shared", "--q-know", "0.7", "--burn-in", "5",
        "--agents", "100", "--steps", "20", "--pairing", "random", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    settings = json.loads(done.stdout)["settings"]
    assert settings["institution_protocol"] == "shared" and settings["institution_size"] == 3
    assert settings["strictness"] == 0.4 and settings["q_know"] == 0.7
    assert settings["burn_in"] == 5 and settings["steps"] == 20 and settings["agents"] == 100
    assert settings["pairing"] == "random" and settings["norm"] == "stern-judging"
    assert settings["norm_table"] == [[[1, 0], [0, 1]], [[1, 0], [0, 1]]]
    default = json.loads(scslab("--agents", "100", "--steps", "20", "--json").stdout)
    assert default["settings"]["burn_in"] == 4  # a fifth of the rounds
    assert default["settings"]["institution_protocol"] == "independent"


def test_the_same_seed_prints_the_same_figures() -> None:
    args = ["--agents", "200", "--steps", "40", "--strategies", "disc=0.5,alld=0.5", "--json"]
    first, again = scslab(*args, "--seed", "9"), scslab(*args, "--seed", "9")
    other = scslab(*args, "--seed", "10")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == json.loads(again.stdout)
    assert json.loads(first.stdout) != json.loads(other.stdout)


def test_without_json_a_table_by_strategy() -> None:
    done = scslab("--agents", "200", "--steps", "30", "--strategies", "disc=0.5,allc=0.5")
    assert done.returncode == 0, done.stderr
    assert "cooperation" in done.stdout and "seen as good" in done.stdout
    assert "disc" in done.stdout and "allc" in done.stdout


def test_a_users_norm_file(tmp_path: Path) -> None:
    """A norm written by the user plays; one of the wrong shape is refused at its line."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("name: mine\nassessment:\n  - [G, B]\n  - [B, G]\n")
    done = scslab("--norm", str(mine), "--agents", "100", "--steps", "20", "--json")
    assert done.returncode == 0, done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nassessment:\n  - [G, B, G]\n  - [B, G, G]\n")
    done = scslab("--norm", str(bad))
    assert done.returncode == 2
    assert f"{bad}:3:" in done.stderr and "2×2" in done.stderr and "2×3" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--e1", "1.5"], "--e1: a probability must lie between 0 and 1, not 1.5"),
        (["--e2", "-0.1"], "--e2: a probability must lie between 0 and 1"),
        (["--strictness", "2"], "--strictness: the strictness must lie in [0, 1), not 2"),
        (["--q-obs", "nan"], "--q-obs: a probability"),
        (["--strategies", "disc=0.6,allc=0.2"], "strategy shares add up to 0.8, not 1"),
        (["--strategies", "disc=0.5,cheat=0.5"], "unknown strategy 'cheat'"),
        (["--strategies", "disc"], "NAME=SHARE"),
        (
            ["--norm", "stern-judgeing"],
            "unknown norm 'stern-judgeing'; did you mean 'stern-judging'",
        ),
        (["--observation", "private", "--agents", "3000000"], "private views of 3,000,000 agents"),
        (["--norm", "image-scoring", "--observation", "institution"], "public reputations"),
        (["--agents", "1"], "--agents"),
        (["--observation", "institution", "--institution-size", "0"], "--institution-size"),
        (["--strictness", "1"], "--strictness: the strictness must lie in [0, 1), not 1"),
        (["--strictness", "-0.1"], "--strictness: the strictness must lie in [0, 1), not -0.1"),
        (["--q-know", "1.5"], "--q-know: a probability must lie between 0 and 1, not 1.5"),
        (["--q-know", "-0.2"], "--q-know: a probability"),
        (["--steps", "50", "--burn-in", "50"], "--burn-in: the burn-in (50 rounds) must be"),
        (["--burn-in", "1000"], "smaller than the number of rounds (steps = 1000)"),
        (["--burn-in", "-1"], "--burn-in"),
    ],
)
def test_bad_input_gets_a_clear_message_and_status_two(args: list[str], message: str) -> None:
    done = scslab(*args)
    assert done.returncode == 2, (args, done.stdout)
    assert message in done.stderr, (args, done.stderr)
    assert "Traceback" not in done.stderr


def test_the_installed_command_exits_with_two_and_no_traceback() -> None:
    """Through ``python -m scslab``: a mistake is one line on stderr and status 2."""
    for args, message in (
        (["--e1", "1.5"], "--e1: a probability must lie between 0 and 1"),
        (["--observation", "private", "--agents", "3000000"], "private views of 3,000,000"),
        (["--institution-protocol", "secret"], "'secret' is not one of 'independent', 'shared'"),
        (["--burn-in", "1000"], "--burn-in: the burn-in (1000 rounds) must be smaller"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "scslab", "game", *args], capture_output=True, text=True
        )
        assert done.returncode == 2, done.stdout
        assert message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
