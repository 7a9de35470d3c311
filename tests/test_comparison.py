"""The map (python -m benchmarks map): rates chosen on validation only, one row per run, resumable."""

import csv
import math
import shutil

import pytest
import torch

import benchmarks.map as comparison
from benchmarks.map import Budget, MapPreset, best_rates, gon_vs_ae, split_for_selection
from benchmarks.map_plots import map_curve_panels
from gon.data import load_data
from gon.errors import GONError
from gon.models.gon import CALIBRATION_SCALES
from gon.training.rundir import held


def test_selection_trains_and_scores_inside_the_training_split():
    train = load_data("mnist5k", "train")
    fitting, validation = split_for_selection(train)
    assert (len(fitting), len(validation)) == (3500, 500)
    assert (fitting.images.data_ptr(), validation.images[0].data_ptr()) == (
        train.images.data_ptr(),
        train.images[3500].data_ptr(),
    )


def test_the_lowest_validation_error_wins_and_a_diverged_rate_never_does():
    rows = [
        {"stage": "selection", "method": "gon", "latent_dim": 32, "norm": "group", "lr": lr, "heldout_sse": sse}
        for lr, sse in ((1e-4, 7.0), (1e-3, 3.5), (3e-3, 3.5), (1e-2, math.inf))
    ]
    rows += [
        {"stage": "selection", "method": "ae", "latent_dim": 32, "norm": "group", "lr": 1e-3, "heldout_sse": math.inf},
        {"stage": "grid", "method": "gon", "latent_dim": 32, "norm": "group", "lr": 1e-4, "heldout_sse": 0.1},
    ]
    # a tie goes to the lower rate; a method whose every rate diverged has none; grid rows never count
    assert best_rates(rows) == {("gon", 32, "group"): 1e-3}


TINY_MAP = MapPreset(
    latent_dims=(8,),
    norms=("group",),
    budgets={"mnist5k": (Budget(30, (8,), seeds=(0,)),)},
    selection_steps=20,
    rates=(1e-3, 3e-3),
)


@pytest.fixture
def tiny_map(monkeypatch):
    monkeypatch.setitem(comparison.MAP_PRESETS, "full", TINY_MAP)


@pytest.fixture(scope="module")
def finished_map(tmp_path_factory):
    """The tiny map run once for the tests that read or continue a finished one: (its folder, its result)."""
    out = tmp_path_factory.mktemp("map")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(comparison.MAP_PRESETS, "full", TINY_MAP)
        return out, gon_vs_ae(out, quick=False, workers=1)


def test_a_map_writes_one_row_per_run_and_a_rerun_continues(tmp_path, tiny_map, finished_map):
    shutil.copytree(finished_map[0], tmp_path, dirs_exist_ok=True)
    result = finished_map[1]
    with open(tmp_path / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:10] == [
        "data",
        "method",
        "latent_dim",
        "norm",
        "lr",
        "steps",
        "seed",
        "heldout_sse",
        "train_sse",
        "seconds",
    ]
    assert sorted(r["method"] for r in rows) == ["ae", "gon"]
    chosen = best_rates(result.records)
    for row in rows:  # each method trained at the rate its validation runs chose
        assert float(row["lr"]) == chosen[(row["method"], 8, "group")]
        assert 0 < float(row["heldout_sse"]) < 1024 and int(row["steps"]) == 30
    assert len([r for r in result.records if r["stage"] == "selection"]) == 4
    assert {p.name for p in tmp_path.iterdir()} >= {
        "map.md",
        "runs.csv",
        "selection.csv",
        "curves.csv",
        "ratio.png",
        "curves.png",
    }
    again = gon_vs_ae(tmp_path, quick=False, workers=1)
    assert len(again.records) == len(result.records)  # nothing retrained
    assert "| mnist5k | gon/ae | 8 | group | 30 |" in again.markdown


def test_a_second_map_on_one_folder_is_refused_before_it_trains(tmp_path, tiny_map, finished_map):
    # both would read the same finished runs, train the same missing ones and append them twice
    with held(tmp_path):
        with pytest.raises(GONError, match=f"{tmp_path} is being written by another gon process"):
            gon_vs_ae(tmp_path, quick=False, workers=1)
    assert list(tmp_path.iterdir()) == []
    shutil.copytree(finished_map[0], tmp_path, dirs_exist_ok=True)
    assert len(gon_vs_ae(tmp_path, quick=False, workers=1).records) == 6  # released: it reads (and would write)


def test_a_damaged_run_log_is_refused_but_a_line_cut_short_is_dropped(tmp_path, tiny_map, finished_map):
    log = tmp_path / "runs.jsonl"
    # the selection stage's four runs of the finished map
    whole = [line for line in (finished_map[0] / "runs.jsonl").read_text().splitlines() if '"selection"' in line]
    assert len(whole) == 4
    log.write_text("\n".join(whole) + '\n{"stage": "grid", "da')  # a writer killed mid-line
    assert len(gon_vs_ae(tmp_path, quick=False, workers=1, stages=("summary",)).records) == 4
    log.write_text("\n".join([whole[0], "{damaged", *whole[1:]]) + "\n")
    with pytest.raises(GONError, match=f"{log}: line 2 is not a JSON record; move the file aside"):
        gon_vs_ae(tmp_path, quick=False, workers=1, stages=("summary",))


def test_the_two_pairs_never_share_a_curve_panel():
    # SSE and bits/dim on one axis would read as one scale
    runs = [
        {"data": "mnist5k", "method": m, "latent_dim": 32, "norm": "group", "steps": steps}
        for m, steps in (("gon", 3000), ("ae", 31250), ("vgon", 31250), ("vae", 500))
    ]
    assert map_curve_panels(comparison.paired_curves(runs, runs)) == {
        ("mnist5k", "gon/ae", 32, "group"): 31250,
        ("mnist5k", "vgon/vae", 32, "group"): 31250,
    }
    # the autoencoder is the implicit GON's baseline too: its curve joins that pair only where igon ran
    sound = [{**r, "data": "sounds"} for r in runs[:2]]
    assert set(map_curve_panels(comparison.paired_curves(sound, sound))) == {("sounds", "gon/ae", 32, "group")}
    sound.append({**sound[0], "method": "igon"})
    assert set(map_curve_panels(comparison.paired_curves(sound, sound))) == {
        ("sounds", "gon/ae", 32, "group"),
        ("sounds", "igon/ae", 32, "group"),
    }


def test_gon_rows_keep_their_scale_rule_and_the_map_compares_the_rules(tmp_path, tiny_map):
    # the paper's scale first (as the rows made before the rule was recorded), then the
    # calibrated rule at the rates selected with the paper's: both GON rows stay, side by side
    first = gon_vs_ae(tmp_path, quick=False, workers=1, inner_scale="paper")
    assert {r.get("inner_scale") for r in first.records if r["method"] == "gon"} == {"paper"}
    again = gon_vs_ae(tmp_path, quick=False, workers=1, inner_scale="calibrated", rates_from="paper", stages=("grid",))
    gon_grid = [r for r in again.records if r["method"] == "gon" and r["stage"] == "grid"]
    assert sorted(r["inner_scale"] for r in gon_grid) == ["calibrated", "paper"]
    assert [r["rates_from"] for r in gon_grid if r["inner_scale"] == "calibrated"] == ["paper"]
    # the row records the scale the calibrated rule chose (one of the scales it searches, as the model's float32
    # buffer holds it); a fixed rule has none
    chosen = [r.get("calibrated_scale") for r in sorted(gon_grid, key=lambda r: r["inner_scale"])]
    assert chosen[1] is None and chosen[0] in {float(torch.tensor(t)) for t in CALIBRATION_SCALES}
    assert len([r for r in again.records if r["method"] == "ae"]) == 3  # the baseline is not retrained
    assert "GON inner-loss scale in these tables: calibrated" in again.markdown
    assert "| mnist5k | gon/ae | 8 | group | 30 | calibrated |" in again.markdown
    with open(tmp_path / "runs.csv") as f:
        assert sorted(r["inner_scale"] for r in csv.DictReader(f)) == ["", "calibrated", "paper"]


def test_a_map_refuses_what_its_preset_cannot_run_before_it_trains(tmp_path):
    with pytest.raises(GONError, match="quick=False asks for the full map, preset for the sound map"):
        gon_vs_ae(tmp_path, quick=False, preset="sound")
    with pytest.raises(GONError, match="the quick map has budgets for mnist5k, not 'fashion-mnist'"):
        gon_vs_ae(tmp_path, quick=True, data=("fashion-mnist",))
    assert list(tmp_path.iterdir()) == []
    # an implicit GON has no normalisation to vary: it runs at the default's name only
    sound = comparison.MAP_PRESETS["sound"]
    cells = comparison.selection_cells(sound, ("gon", "igon"), (32,), ("group", "batch"))
    assert sorted({(c.method, c.norm) for c in cells}) == [("gon", "batch"), ("gon", "group"), ("igon", "group")]


def test_a_budget_may_name_the_methods_it_runs():
    # the video map trains the conv GON and the autoencoder ten times longer, to the implicit GON's time
    preset = comparison.MAP_PRESETS["video"]
    rates = {(method, 256, "group"): 1e-3 for method in preset.methods}
    cells = comparison.grid_cells(preset, rates, ["videos"], preset.methods, [256], ["group"], None, None)
    runs = sorted({(c.method, c.steps) for c in cells})
    assert runs == [("ae", 300), ("ae", 3000), ("gon", 300), ("gon", 3000), ("igon", 300)]
    assert len(cells) == 5 * 3  # three seeds each
