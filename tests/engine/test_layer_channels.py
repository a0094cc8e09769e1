"""A layer takes the records of the observation channels it subscribes to (``channels:``).

Every layer of a run sees the same acts; whether a true act is recorded is one draw, compared
in each layer with the chance that one of *its* channels records the act, so a layer with fewer
channels sees a subset of the records of one with more; a false record (of one channel) reaches
the layers that take its channel; and a layer deters through its own channels only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from scslab import Simulation
from scslab.behaviour.rates import load_catalogue
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario, load_scenario
from scslab.errors import ScenarioError


def court_only() -> Any:
    """bool[acts]: the built-in catalogue's acts the court channel can record."""
    acts = load_catalogue().acts
    return np.array(["court" in a.channels for a in acts])


def rows(record: Any) -> dict[tuple[int, int], list[tuple[int, int, int]]]:
    """A layer's panel's acts by (month, person): (act, false, recorded) in the order drawn."""
    out: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for t, person, act, false, recorded, *_ in np.concatenate(record.panel_events).tolist():
        if act >= 0:
            out.setdefault((t, person), []).append((act, false, recorded))
    return out


def two_layers(**court: Any) -> LayeredSimulation:
    """Rongcheng's score everywhere twice: layer ``all`` takes every channel's records, layer
    ``courts`` (``court``: its entry's other fields) the court's only."""
    return LayeredSimulation(
        Scenario.model_validate(
            {
                "population": {"agents": 3000},
                "years": 0.5,
                "seed": 5,
                "panel": 3000,
                "layers": [
                    {"id": "all", "scheme": "rongcheng-2014"},
                    {"id": "courts", "scheme": "rongcheng-2014", "channels": ["court"], **court},
                ],
            }
        )
    )


def test_a_layer_of_the_court_s_channel_takes_a_subset_of_the_records() -> None:
    """Person by person: the same true acts in both layers; every record the court's layer has
    is also the other layer's, of an act the court can record; no false record of another
    channel reaches it, while the layer of every channel has some."""
    lsim = two_layers()
    run = lsim.execute()
    every, courts = (r.record for r in run.runs)
    court = court_only()
    a, c = rows(every), rows(courts)
    assert a.keys() >= c.keys()
    fewer = 0
    for key, mine in c.items():
        theirs = a[key]
        true_a = [(act, rec) for act, false, rec in theirs if not false]
        true_c = [(act, rec) for act, false, rec in mine if not false]
        assert [x for x, _ in true_a] == [x for x, _ in true_c], key  # the same acts
        for (act, ra), (_, rc) in zip(true_a, true_c, strict=True):
            assert rc <= ra, key  # a record of the court's layer is the other's too
            assert not rc or court[act], key
            fewer += ra - rc
        false_c = sorted(act for act, false, _ in mine if false)
        false_a = sorted(act for act, false, _ in theirs if false)
        assert set(false_c) <= set(false_a) and all(court[x] for x in false_c)
    assert fewer > 50  # records of other channels that the court's layer does not take
    true_all = np.stack(every.ev_true).sum(axis=(0, 1))
    assert (true_all == np.stack(courts.ev_true).sum(axis=(0, 1))).all()
    rec = np.stack(courts.ev_rec).sum(axis=(0, 1))
    false = np.stack(courts.ev_false).sum(axis=(0, 1))
    assert rec[~court].sum() == 0 and false[~court].sum() == 0
    assert rec[court].sum() > 0 and true_all[~court].sum() > 0
    assert np.stack(every.ev_false).sum(axis=(0, 1))[~court].sum() > 0


def test_a_layer_does_not_deter_through_a_channel_it_does_not_take() -> None:
    """An act only the bank records (payment arrears) costs nothing in the court's layer: its
    deterrence factor is 1, while the layer of every channel deters it; an act the court
    records is deterred less where only the court's records count."""
    lsim = two_layers()
    every, courts = (ls.sim.rates for ls in lsim.layers)
    ids = list(every.act_ids)
    arrears, theft = ids.index("payment-arrears"), ids.index("utility-theft")
    assert (courts.deterrence[:, :, arrears] == 1.0).all()
    assert (every.deterrence[:, 0, arrears] < 1.0).all()
    assert (courts.deterrence[:, 0, theft] > every.deterrence[:, 0, theft]).all()
    # the world draws each act at the rate of the layer that deters it most: the other's
    assert (courts.deterrence[:, :, theft] < 1.0).all()


def test_a_layer_of_one_takes_its_channels_and_every_channel_is_as_before() -> None:
    """A run of one layer with `channels:` records only what its channels record; naming every
    channel gives the run without `channels:`, bit for bit."""
    base = {"population": {"agents": 1500}, "years": 0.25, "seed": 3, "panel": 50}
    layer = {"id": "city", "scheme": "rongcheng-2014"}
    everything = [c.id for c in load_catalogue().channels]

    def run(**kw: Any) -> Any:
        scenario = Scenario.model_validate({**base, "layers": [{**layer, **kw}]})
        return Simulation(scenario).execute()[0]

    plain, named, court = run(), run(channels=everything), run(channels=["court"])
    for name in ("ev_true", "ev_rec", "ev_false", "hist", "panel_score"):
        assert all(
            (x == y).all() for x, y in zip(getattr(plain, name), getattr(named, name), strict=True)
        ), name
    rec = np.stack(court.ev_rec).sum(axis=(0, 1))
    assert rec[~court_only()].sum() == 0 and rec.sum() > 0
    assert np.stack(plain.ev_rec).sum(axis=(0, 1))[~court_only()].sum() > 0
    none = run(channels=[])  # a layer that takes no records: nobody is scored
    assert np.stack(none.ev_rec).sum() == 0 and np.stack(none.ev_false).sum() == 0
    assert np.stack(none.ev_true).sum() > 0 and len(np.unique(np.asarray(none.panel_score))) == 1


@pytest.mark.parametrize(
    ("channels", "where", "message"),
    [
        (
            "[court, bnak]",
            "4:23",
            "layers.0.channels.1: the act catalogue has no channel 'bnak'; did you mean 'bank'?",
        ),
        ("[court, court]", "4:23", "layers.0.channels.1: the channel 'court' is named twice"),
    ],
)
def test_a_wrong_channel_is_refused_at_its_place(
    tmp_path: Path, channels: str, where: str, message: str
) -> None:
    path = tmp_path / "layered.yaml"
    path.write_text(f"layers:\n  - id: a\n    scheme: suining-2010\n    channels: {channels}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{path}:{where}: {message}" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_a_layer_of_firms_names_the_channels_of_the_firms_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "layered.yaml"
    path.write_text(
        "layers:\n  - {id: p, scheme: defaulter-blacklist}\n  - id: f\n    scheme: corporate-scs\n"
        "    people: p\n    channels: [bank]\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == (
        f"{path}:6:16: layers.1.channels.0: the act catalogue has no channel 'bank'; "
        "known: court, tax, social-media, informant"
    )


def test_a_wrong_channel_is_refused_in_python_too() -> None:
    scenario = Scenario.model_validate(
        {"layers": [{"id": "a", "scheme": "suining-2010", "channels": ["cameras"]}]}
    )
    with pytest.raises(ScenarioError, match=r"layers.0.channels.0: .* 'cameras'; did you mean"):
        Simulation(scenario)
    layers = [{"id": "a", "scheme": "suining-2010"}, {"id": "b", "scheme": "rongcheng-2014"}]
    layers[1]["channels"] = ["court", "banks"]
    with pytest.raises(ScenarioError, match=r"^layers.1.channels.1: .* 'banks'; did you mean"):
        LayeredSimulation(Scenario.model_validate({"layers": layers}))


def test_the_channels_shown_in_docs_layers_md_are_a_scenario() -> None:
    """The YAML of docs/layers.md#a-layers-channels validates, and its court's layer takes the
    court's records only."""
    text = (Path(__file__).parents[2] / "docs" / "layers.md").read_text(encoding="utf-8")
    section = text.split("## A layer's channels", 1)[1]
    shown = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = Scenario.model_validate(yaml.safe_load(shown))
    lsim = LayeredSimulation(scenario)
    spc, city = (ls.sim.rates for ls in lsim.layers)
    assert spc.taken is not None and city.taken is None
    assert [c for c, t in zip(spc.channels, spc.taken, strict=True) if t] == ["court"]
