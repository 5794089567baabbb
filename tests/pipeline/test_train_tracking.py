"""Tracking and sweeps of ``python -m experiments.train``: an offline wandb run logs the
resolved config and the KPIs, the joblib launcher runs a two-seed multirun, the Optuna
sweeper completes a search. Helpers: ``training_runs.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agents.rl import checkpoints
from tests.entry_points import ROOT
from tests.pipeline.training_runs import needs, read_csv

# -- 1. wandb (offline) ---------------------------------------------------------------------
WANDB_BLOCK = 32 * 1024


def wandb_records(path: Path):
    """The protobuf records of a ``run-*.wandb`` file (a LevelDB-style log of 32 KiB
    blocks: a 7-byte file header, then chunks of crc32 (4), length (2, little endian),
    type (1: full, 2: first, 3: middle, 4: last) and payload)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a wandb run file"
    pos, chunk = 7, b""
    while pos + 7 <= len(data):
        room = WANDB_BLOCK - pos % WANDB_BLOCK
        if room < 7:  # block trailer padding
            pos += room
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        chunk += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunk)
            yield record
            chunk = b""


@needs("wandb")
def test_wandb_offline_run_logs_resolved_config(pipeline):
    result = pipeline.get("wandb")
    result.assert_ok()
    runs = list((result.out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, runs
    run_id = (result.out / "wandb_run_id.txt").read_text().strip()
    assert runs[0].name.endswith(f"-{run_id}")
    config, history = {}, set()
    for record in wandb_records(runs[0] / f"run-{run_id}.wandb"):
        kind = record.WhichOneof("record_type")
        if kind in ("run", "config"):
            items = record.run.config.update if kind == "run" else record.config.update
            config.update({item.key: json.loads(item.value_json) for item in items})
        elif kind == "history":
            history.update(item.key or "/".join(item.nested_key) for item in record.history.item)
    assert config["total_timesteps"] == 512
    assert config["env"]["penalty"] == 19
    assert config["agent"]["name"] == "ppo" and config["agent"]["kwargs"]["n_steps"] == 64
    assert config["logger"]["wandb"]["mode"] == "offline"
    assert {"eval/mean_cost", "eval/fill_rate", "train/cost_per_period"} <= history, history
    logs = "".join(p.read_text(errors="replace") for p in (result.out / "wandb").rglob("*.log"))
    assert "127.0.0.1:9" not in logs and "connection refused" not in logs.lower()


# -- 2. multirun with the joblib launcher ---------------------------------------------------
@needs("multirun")
def test_joblib_multirun_over_two_seeds(pipeline):
    result = pipeline.get("multirun")
    result.assert_ok()
    assert "Joblib" in result.stdout, result.explain()
    for seed in (0, 1):
        job = result.out / str(seed)
        assert yaml.safe_load((job / "config.yaml").read_text())["seed"] == seed
        assert [r["agent"] for r in read_csv(job / "results.csv")] == ["ppo"]
        assert checkpoints.latest(job).timesteps == 512


# -- 3. the Optuna search -------------------------------------------------------------------
@needs("optuna")
def test_optuna_search_completes(pipeline):
    result = pipeline.get("optuna")
    result.assert_ok()
    summary = yaml.safe_load((result.out / "optimization_results.yaml").read_text())
    search = yaml.safe_load((ROOT / "configs/hparams_search/ppo_lost_sales.yaml").read_text())
    assert set(summary["best_params"]) == set(search["hydra"]["sweeper"]["params"])
    trials = sorted(p for p in result.out.iterdir() if p.is_dir())
    assert [p.name for p in trials] == ["0", "1"]
    best = []
    for trial in trials:
        cfg = yaml.safe_load((trial / "config.yaml").read_text())
        # the search config's own values win over train.yaml's defaults
        assert cfg["benchmark"]["agents"] == [] and cfg["progress_bar"] is False
        assert cfg["total_timesteps"] == 512  # and the command line wins over both
        assert [r["agent"] for r in read_csv(trial / "results.csv")] == ["ppo"]
        best.append(min(float(r["mean_cost"]) for r in read_csv(trial / "eval.csv")))
    assert summary["best_value"] == pytest.approx(min(best))
