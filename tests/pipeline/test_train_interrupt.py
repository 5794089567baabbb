"""SIGTERM and SIGINT stop ``python -m experiments.train`` cleanly with a checkpoint at the
interruption (also when the signal comes after the last step), and ``resume=`` continues the
run from its newest checkpoint. Helpers: ``training_runs.py``."""

from __future__ import annotations

import re
import signal
from types import SimpleNamespace

import pytest
import yaml

from agents.rl import checkpoints
from tests.entry_points import Result
from tests.pipeline.training_runs import copy_run, load_checkpoint_model, needs, read_csv, train


# -- 1. SIGTERM / SIGINT stop cleanly; resume continues --------------------------------------
def interrupted_at(result: Result) -> int:
    match = re.search(r"interrupted at ([\d,]+) timesteps", result.stdout)
    assert match, result.explain()
    return int(match.group(1).replace(",", ""))


@needs("interrupt:{sig}")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly_with_checkpoint(pipeline, sig):
    result = pipeline.get(f"interrupt:{sig}")
    result.assert_ok()
    steps = interrupted_at(result)
    assert f"resume={result.out}" in result.stdout, result.explain()
    assert 0 < steps < 10_000_000
    newest = checkpoints.latest(result.out)
    assert newest.timesteps == steps, "the checkpoint is taken at the interruption"
    assert load_checkpoint_model("ppo", newest).num_timesteps == steps
    assert newest.normalisation is not None
    assert not (result.out / "results.csv").exists(), "no benchmark after an interruption"


def test_signal_after_the_last_step_still_checkpoints():
    """A signal during the final gradient update (after the last ``on_step``) must still
    leave a checkpoint at the final timesteps, since the run reports itself interrupted."""
    from agents.rl.callbacks import GracefulStop

    saved = []

    class Checkpointer:
        def save(self):
            saved.append(stop.model.num_timesteps)

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for last_step in (256, 512):  # the signal is seen at step 256; training ends at last_step
        saved.clear()
        stop = GracefulStop(Checkpointer())
        stop.model = SimpleNamespace(num_timesteps=256)
        stop._on_training_start()
        try:
            assert signal.getsignal(signal.SIGTERM) == stop._handler
            assert stop._on_step() is True and not saved
            stop._handler(signal.SIGTERM, None)
            assert stop._on_step() is False and saved == [256]
            stop.model.num_timesteps = last_step
        finally:
            stop._on_training_end()
        assert saved == sorted({256, last_step}), "one checkpoint at the final timesteps"
        assert {s: signal.getsignal(s) for s in handlers} == handlers, "handlers not restored"


@needs("interrupt:SIGTERM")
def test_resume_continues_from_newest_checkpoint(pipeline, tmp_path):
    first = pipeline.get("interrupt:SIGTERM")
    first.assert_ok()
    steps = interrupted_at(first)
    run = copy_run(first.out, tmp_path / "run")
    first_meta = checkpoints.latest(run).meta
    before = read_csv(run / "progress.csv")
    evals_before = read_csv(run / "eval.csv")
    assert before, "the interrupted run logged nothing"
    target = steps + 512
    cwd = tmp_path / "cwd"
    result = train([f"resume={run}", f"total_timesteps={target}"], pipeline.base, "resume",
                   run, cwd=cwd)
    result.assert_ok()

    assert f"run dir {run}" in result.stdout, result.explain()
    assert not any(cwd.iterdir()), "resume must write into the run dir, nowhere else"
    newest = checkpoints.latest(run)
    assert newest.timesteps == target, "a resumed run ends exactly at total_timesteps"
    assert newest.meta["wall_seconds"] > first_meta["wall_seconds"], "wall_seconds continues on resume"
    assert newest.meta["cpu_seconds"] > first_meta["cpu_seconds"] > 0, "cpu_seconds continues on resume"
    assert yaml.safe_load((run / "config.yaml").read_text())["total_timesteps"] == target

    after = read_csv(run / "progress.csv")
    assert len(after) > len(before), "progress.csv was not appended to"
    for old, new in zip(before, after, strict=False):
        assert {k: v for k, v in new.items() if k in old} == old, "old progress rows changed"
    resumed = [float(r["time/total_timesteps"]) for r in after[len(before):]
               if r.get("time/total_timesteps")]
    assert resumed and min(resumed) > steps, "training restarted instead of resuming"
    assert read_csv(run / "eval.csv")[:len(evals_before)] == evals_before
    assert [r["agent"] for r in read_csv(run / "results.csv")] == ["ppo"]
