"""Every algorithm trains through ``python -m experiments.train`` and writes its outputs
(results, checkpoints, evaluations, TensorBoard tags, the benchmark report); DCL logs and
resumes its generations; a corrupt or missing checkpoint is refused and a crash mid-write
leaves the previous checkpoints intact. Helpers: ``training_runs.py``.

Every run here is checked for its files, tables and errors only, so it runs in this process
(``tests.entry_points.run_in_process``: the same Hydra ``main`` on the same composed config):
this module's ``pipeline`` runs ``training_runs.py``'s agent jobs (``agent_args``) that
way, once each, on first use. Training through a real interpreter is ``tests/test_tasks.py``'s
(every task) and the other ``test_train_*.py`` modules'."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

from agents.rl import checkpoints
from agents.rl.algorithms import algorithm
from tests.entry_points import Result, run_in_process, run_once
from tests.pipeline.training_runs import (
    AGENTS,
    agent_args,
    copy_run,
    load_checkpoint_model,
    needs,
    read_csv,
)


class InProcessPipeline:
    """``training_runs.Pipeline``'s ``get`` and ``base`` for the agent jobs (``agent:<name>``):
    each job's arguments (``training_runs.agent_args``) run once by ``run_once``."""

    def __init__(self, base: Path):
        self.base, self.results = base, {}

    def get(self, key: str) -> Result:
        if key not in self.results:
            args, out = agent_args(key.removeprefix("agent:"), self.base)
            self.results[key] = run_once("experiments.train", args, self.base, out)
        return self.results[key]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """This module's jobs (``needs``), in process (module docstring)."""
    return InProcessPipeline(tmp_path_factory.mktemp("train"))


# -- 1. every algorithm trains and writes its outputs ---------------------------------------
@needs("agent:{name}")
@pytest.mark.parametrize("name", list(AGENTS))
def test_agent_trains_and_writes_outputs(pipeline, name):
    result = pipeline.get(f"agent:{name}")
    result.assert_ok()
    out, total = result.out, AGENTS[name][0]
    assert yaml.safe_load((out / "config.yaml").read_text())["agent"]["name"] == name

    rows = read_csv(out / "results.csv")
    assert [r for r in rows if r["agent"] == name], rows
    assert math.isfinite(float(next(r for r in rows if r["agent"] == name)["mean_cost"]))

    found = checkpoints.list_checkpoints(out)
    assert found, f"no checkpoint in {out / 'checkpoints'}"
    off_policy = algorithm(name).off_policy
    for ckpt in found:
        assert ckpt.model.is_file() and (ckpt.path / "meta.json").is_file()
        assert ckpt.normalisation is not None, ckpt.path
        assert (ckpt.replay_buffer is not None) == off_policy, ckpt.path
        assert ckpt.meta["agent"] == name and ckpt.meta["timesteps"] == ckpt.timesteps
    newest = found[-1]
    assert newest.timesteps == total, "a run ends exactly at its budget"
    assert load_checkpoint_model(name, newest).num_timesteps == newest.timesteps
    assert (out / "best" / "model.zip").is_file()

    evals = read_csv(out / "eval.csv")
    assert evals and int(evals[-1]["timesteps"]) == total
    assert all(math.isfinite(float(r["mean_cost"])) for r in evals)
    steps = [int(r["timesteps"]) for r in evals]
    assert steps == sorted(set(steps)), "one evaluation per timestep (the final one only once)"
    assert (out / "progress.csv").stat().st_size > 0


@needs("agent:ppo")
def test_benchmark_report_against_heuristic(pipeline):
    result = pipeline.get("agent:ppo")
    result.assert_ok()
    rows = {r["agent"]: r for r in read_csv(result.out / "results.csv")}
    assert set(rows) == {"ppo", "base_stock"}
    for name in ("results.md", "cost_comparison.png", "learning_curve.png", "policy_map.png"):
        assert (result.out / name).stat().st_size > 0, name


@needs("agent:dcl")
def test_dcl_logs_its_generations(pipeline):
    """DCL's own statistics reach the logger (progress.csv here; TensorBoard / wandb take the
    same records): one row per generation with the classifier's loss and accuracy."""
    result = pipeline.get("agent:dcl")
    result.assert_ok()
    rows = [r for r in read_csv(result.out / "progress.csv") if r.get("dcl/generation")]
    assert [float(r["dcl/generation"]) for r in rows] == [1.0, 2.0]
    for row in rows:
        assert 0.0 <= float(row["dcl/train_accuracy"]) <= 1.0 and math.isfinite(float(row["dcl/loss"]))
    assert "dcl/changed_fraction" in rows[-1] and rows[-1]["dcl/changed_fraction"] != ""
    saved = yaml.safe_load((result.out / "config.yaml").read_text())
    assert saved["agent"]["problem"]["start_policy"] is None  # null: the task's default (capped_base_stock)


@needs("agent:dcl")
def test_dcl_resumes_from_the_command_line(pipeline, tmp_path, monkeypatch, capsys):
    """``resume=`` continues DCL from its newest checkpoint with one more generation: the
    generation counter, the observation statistics and the timesteps carry over."""
    first = pipeline.get("agent:dcl")
    first.assert_ok()
    run = copy_run(first.out, tmp_path / "run")
    before = json.loads((checkpoints.latest(run).path / "vecnormalize.json").read_text())
    result = run_in_process("experiments.train", [f"resume={run}", "total_timesteps=192"], tmp_path, monkeypatch,
                            capsys, run)
    result.assert_ok()
    newest = checkpoints.latest(run)
    assert newest.timesteps == 192
    model = load_checkpoint_model("dcl", newest)
    assert model.generation == 3 and model.num_timesteps == 192
    assert json.loads((newest.path / "vecnormalize.json").read_text())["obs"] == before["obs"]
    assert [int(r["timesteps"]) for r in read_csv(run / "eval.csv")] == [64, 128, 192]


# -- 2. corrupt or missing checkpoints; crash mid-write --------------------------------------
@needs("agent:ppo")
def test_resume_refuses_corrupt_checkpoint(pipeline, tmp_path, monkeypatch, capsys):
    pipeline.get("agent:ppo").assert_ok()
    run = copy_run(pipeline.get("agent:ppo").out, tmp_path / "run")
    newest = checkpoints.latest(run)
    newest.model.write_bytes(b"this is not a zip file" * 10)
    result = run_in_process("experiments.train", [f"resume={run}", "total_timesteps=4096"], tmp_path, monkeypatch,
                            capsys, run)
    result.assert_one_line_error(str(newest.model))
    assert checkpoints.latest(run).path == newest.path, "no new checkpoint after a failure"


@needs("agent:ppo")
def test_resume_without_run_dir_or_checkpoints(pipeline, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "no_checkpoints"
    empty.mkdir()
    shutil.copy(pipeline.get("agent:ppo").out / "config.yaml", empty / "config.yaml")
    missing = tmp_path / "does_not_exist"
    cases = {"missing": ([f"resume={missing}"], str(missing)),
             "empty": ([f"resume={empty}"], "no checkpoint")}
    for args, fragment in cases.values():
        run_in_process("experiments.train", args, tmp_path, monkeypatch, capsys).assert_one_line_error("resume",
                                                                                                        fragment)


class FailingModel:
    """Stands in for an SB3 model whose ``save`` dies half-way through the write."""

    def __init__(self, num_timesteps: int):
        self.num_timesteps = num_timesteps

    def save(self, path):
        Path(path).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")


@needs("agent:ppo")
def test_crash_mid_write_leaves_previous_checkpoints_intact(pipeline, tmp_path):
    run = copy_run(pipeline.get("agent:ppo").out, tmp_path / "run")
    before = checkpoints.list_checkpoints(run)
    newest = before[-1]
    snapshot = {p.name: p.read_bytes() for p in newest.path.iterdir()}

    # a new step, and a re-save of the newest step (the final save at the same timestep)
    for steps in (newest.timesteps + 1000, newest.timesteps):
        with pytest.raises(OSError, match="No space"):
            checkpoints.save_step(FailingModel(steps), None, run, {"agent": "ppo"}, keep=1)
        after = checkpoints.list_checkpoints(run)
        assert [c.path for c in after] == [c.path for c in before], "pruned or added on failure"
        assert {p.name: p.read_bytes() for p in newest.path.iterdir()} == snapshot
        leftovers = [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
        assert not leftovers, leftovers
    assert not (run / "checkpoints" / f"step_{newest.timesteps + 1000:012d}").exists()
    assert load_checkpoint_model("ppo", checkpoints.latest(run)).num_timesteps == newest.timesteps


# -- 3. TensorBoard KPI tags ----------------------------------------------------------------
@needs("agent:ppo")
def test_tensorboard_has_kpi_tags(pipeline):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = pipeline.get("agent:ppo")
    result.assert_ok()
    acc = EventAccumulator(str(result.out / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    wanted = {"eval/mean_cost", "eval/fill_rate", "eval/ci95", "eval/gap_to_reference_pct",
              "train/cost_per_period", "train/fill_rate", "rollout/ep_rew_mean"}
    assert wanted <= tags, wanted - tags
    logged = [(e.step, e.value) for e in acc.Scalars("eval/mean_cost")]
    evals = [(int(r["timesteps"]), float(r["mean_cost"])) for r in read_csv(result.out / "eval.csv")]
    assert [s for s, _ in logged] == [s for s, _ in evals]
    assert [v for _, v in logged] == pytest.approx([v for _, v in evals], rel=1e-6)
