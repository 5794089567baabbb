"""Nothing is lost and nothing runs from a run's files: run-directory guard, resume rules and
safe loading, each a regression test of a defect found by trying the pipeline adversarially.

Two smoke training runs (PPO and DQN on lost sales, ``smoke=true``) are made once; every
test works on a copy. Commands the run-directory guard (a Hydra callback) refuses, and runs
whose ``.hydra/`` record is checked, run as real subprocesses, several at a time; the others
run the entry point's main in this process (``tests/entry_points.py``: no new interpreter,
no second import of torch and SB3).
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from agents.rl import checkpoints
from envs.core.config import ConfigError
from tests.entry_points import run_in_process, run_once, subprocess_env


def launch(module: str, args: list[str], base: Path, cwd: Path | None = None) -> subprocess.Popen:
    cwd = cwd or base / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=cwd, env=subprocess_env(base),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def done(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run(module: str, args: list[str], base: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return done(launch(module, args, base, cwd))


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.args, result.stdout[-1500:], result.stderr[-1500:])
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """PPO as a real subprocess (its first ``.hydra`` record is checked on resume), DQN meanwhile
    in this process."""
    base = tmp_path_factory.mktemp("run_dirs")
    ppo = launch("experiments.train", ["smoke=true", "agent=ppo", f"hydra.run.dir={base / 'ppo'}"], base)
    dqn = run_once("experiments.train", ["smoke=true", "agent=dqn", f"hydra.run.dir={base / 'dqn'}"],
                   base / "in_process")
    result = done(ppo)
    assert result.returncode == 0, ("ppo", result.stderr[-3000:])
    dqn.assert_ok()
    return {"base": base, "ppo": base / "ppo", "dqn": base / "dqn"}


def copy(runs, name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(runs[name], tmp_path / name, ignore=shutil.ignore_patterns("wandb")))


class Evil:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def replace_member(archive_path: Path, member: str, data: bytes) -> None:
    """Rewrite one member of a zip archive (a checkpoint's ``model.zip``)."""
    with zipfile.ZipFile(archive_path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members[member] = data
    with zipfile.ZipFile(archive_path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


# -- data loss -------------------------------------------------------------------------------
def test_a_command_refuses_a_directory_that_holds_another_run_and_leaves_it_untouched(runs, tmp_path):
    run_dir = copy(runs, "ppo", tmp_path)
    before = snapshot(run_dir)
    bench = launch("experiments.benchmark", ["agents=[base_stock]", f"hydra.run.dir={run_dir}"], runs["base"])
    train = launch("experiments.train", ["smoke=true", f"hydra.run.dir={run_dir}"], runs["base"])
    one_line_error(done(bench), "hydra.run.dir", "experiments.train", "new or empty directory")
    one_line_error(done(train), "hydra.run.dir", "resume=")
    assert snapshot(run_dir) == before, "the run's files (.hydra included) changed"


def test_a_directory_with_only_the_records_of_a_refused_command_can_be_used_again(tmp_path):
    """A command refused by its checks leaves only Hydra's .hydra/ and log file (it writes
    run.json and config.yaml after them): the fixed command may run there; a run may not."""
    from experiments.support.rundir import check_target
    from tests.conftest import one_line_error as raised

    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- tuning.reps=abc\n")
    (tmp_path / "benchmark.log").write_text("")
    check_target(tmp_path)
    (tmp_path / "config.yaml").write_text("seed: 0\n")
    assert "already holds a run" in raised(ConfigError, check_target, tmp_path)


def test_training_refuses_a_benchmark_directory(runs, tmp_path, monkeypatch, capsys):
    bench = tmp_path / "bench"
    run_in_process("experiments.benchmark", ["smoke=true", "agents=[base_stock]", f"hydra.run.dir={bench}"],
                   tmp_path, monkeypatch, capsys).assert_ok()
    before = snapshot(bench)
    one_line_error(run("experiments.train", [f"resume={bench}"], runs["base"]), "resume", "experiments.benchmark")
    assert snapshot(bench) == before


def test_a_mistyped_or_wrong_resume_creates_nothing(runs, tmp_path):
    cwd = tmp_path / "cwd"
    missing, afile = tmp_path / "no_such_run", tmp_path / "a_file.txt"
    afile.write_text("not a run")
    garbage = copy(runs, "ppo", tmp_path)
    (garbage / "config.yaml").write_text("env: [unclosed\n  - {")
    procs = {"missing": launch("experiments.train", [f"resume={missing}"], runs["base"], cwd),
             "file": launch("experiments.train", [f"resume={afile}"], runs["base"], cwd),
             "garbage": launch("experiments.train", [f"resume={garbage}"], runs["base"], cwd)}
    one_line_error(done(procs["missing"]), "resume", "does not exist")
    one_line_error(done(procs["file"]), "resume", "is a file")
    one_line_error(done(procs["garbage"]), "resume", "config.yaml")
    assert not missing.exists() and afile.read_text() == "not a run"
    assert not (cwd / "outputs").exists() and not (garbage / ".hydra" / "resumed").exists()


# -- resume ----------------------------------------------------------------------------------
def test_resume_appended_to_the_original_command_line_continues(runs, tmp_path, monkeypatch, capsys):
    run_dir = copy(runs, "ppo", tmp_path)
    total = checkpoints.latest(run_dir).timesteps + 32
    first_hydra = {p.name: p.read_bytes() for p in (run_dir / ".hydra").glob("*.yaml")}
    same = launch("experiments.train", ["smoke=true", "env=lost_sales", "agent=ppo", f"resume={run_dir}",
                                        f"total_timesteps={total}"], runs["base"])
    dqn = copy(runs, "dqn", tmp_path)
    other_env = run_in_process("experiments.train", ["env=fulfillment_center", f"resume={dqn}"], tmp_path,
                               monkeypatch, capsys, out=dqn)
    result = done(same)
    assert result.returncode == 0, result.stderr[-3000:]
    assert checkpoints.latest(run_dir).timesteps == total
    assert {p.name: p.read_bytes() for p in (run_dir / ".hydra").glob("*.yaml")} == first_hydra, \
        "the run's first .hydra record was rewritten"
    assert list((run_dir / ".hydra").glob("resumed-*")), "the resume command is recorded beside it"
    one_line_error(other_env, "resume", "config groups cannot change", "env=lost_sales")
    changed = run_in_process("experiments.train", [f"resume={run_dir}", "env.lead_time=3"], tmp_path, monkeypatch,
                             capsys, out=run_dir)
    one_line_error(changed, "env.lead_time cannot change")


def test_resume_after_the_budget_still_benchmarks(runs, tmp_path, monkeypatch, capsys):
    run_dir = copy(runs, "ppo", tmp_path)
    (run_dir / "results.csv").unlink()
    steps = checkpoints.latest(run_dir).timesteps
    run_in_process("experiments.train", [f"resume={run_dir}"], tmp_path, monkeypatch, capsys, out=run_dir).assert_ok()
    assert (run_dir / "results.csv").exists(), "the final evaluation was skipped"
    assert checkpoints.latest(run_dir).timesteps == steps


def test_resume_refuses_missing_training_state_unless_told(runs, tmp_path, monkeypatch, capsys, caplog):
    ppo, dqn = copy(runs, "ppo", tmp_path), copy(runs, "dqn", tmp_path)
    (checkpoints.latest(ppo).path / "vecnormalize.json").unlink()
    (checkpoints.latest(dqn).path / "replay_buffer.npz").unlink()
    more = checkpoints.latest(ppo).timesteps + 32
    refused = {name: run_in_process("experiments.train", [f"resume={path}", f"total_timesteps={more}"], tmp_path,
                                    monkeypatch, capsys, out=path)
               for name, path in {"ppo": ppo, "dqn": dqn}.items()}
    one_line_error(refused["ppo"], "resume", "vecnormalize.json", "resume_allow_missing=true")
    one_line_error(refused["dqn"], "resume", "replay_buffer.npz")
    caplog.clear()
    allowed = run_in_process("experiments.train", [f"resume={ppo}", f"total_timesteps={more}",
                                                   "resume_allow_missing=true"], tmp_path, monkeypatch, capsys, out=ppo)
    allowed.assert_ok()
    assert "lacks vecnormalize.json" in allowed.stdout + allowed.stderr + caplog.text  # a log warning
    assert checkpoints.latest(ppo).timesteps == more


def test_resume_refuses_a_corrupt_replay_buffer(runs, tmp_path, monkeypatch, capsys):
    dqn = copy(runs, "dqn", tmp_path)
    newest = checkpoints.latest(dqn)
    newest.replay_buffer.write_bytes(b"garbage")
    one_line_error(run_in_process("experiments.train", [f"resume={dqn}", f"total_timesteps={newest.timesteps + 64}"],
                                  tmp_path, monkeypatch, capsys, out=dqn), str(newest.replay_buffer))


# -- nothing runs from a run's files ----------------------------------------------------------
def test_benchmark_and_export_execute_nothing_from_a_crafted_run(runs, tmp_path, monkeypatch, capsys):
    run_dir = copy(runs, "ppo", tmp_path)
    marker = tmp_path / "pwned"
    for ckpt in (run_dir / "best", checkpoints.latest(run_dir).path):
        (ckpt / "vecnormalize.pkl").write_bytes(pickle.dumps(Evil(marker)))
    run_in_process("experiments.benchmark", ["smoke=true", "agents=[base_stock]", f"models=[{run_dir}]",
                                             f"hydra.run.dir={tmp_path / 'bench'}"], tmp_path, monkeypatch,
                   capsys).assert_ok()
    run_in_process("experiments.export", [f"run_dir={run_dir}"], tmp_path, monkeypatch, capsys,
                   out=tmp_path / "export").assert_ok()
    assert not marker.exists(), "a pickle in the run directory was executed"


def test_crafted_weights_or_config_are_refused_without_running_them(runs, tmp_path, monkeypatch, capsys):
    weights, config = copy(runs, "ppo", tmp_path / "w"), copy(runs, "ppo", tmp_path / "c")
    marker = tmp_path / "pwned"
    best = weights / "best" / "model.zip"
    replace_member(best, "policy.pth", pickle.dumps(Evil(marker)))
    text = (config / "config.yaml").read_text()
    (config / "config.yaml").write_text(text.replace("_target_: agents.lost_sales.task.LostSalesTask",
                                                     "_target_: os.system"))
    results = {name: run_in_process("experiments.benchmark", ["smoke=true", "agents=[base_stock]", f"models=[{path}]",
                                                              f"hydra.run.dir={tmp_path / name}"], tmp_path,
                                    monkeypatch, capsys)
               for name, path in {"weights": weights, "config": config}.items()}
    one_line_error(results["weights"], str(best), "cannot be loaded as weights")
    one_line_error(results["config"], "env._target_", "not a registered task")
    assert not marker.exists()


def test_resume_unpickles_nothing_from_a_crafted_run(runs, tmp_path, monkeypatch, capsys):
    """Pickles in ``model.zip``'s ``data``, ``vecnormalize.pkl`` and ``replay_buffer.pkl`` are
    never read: the run resumes from its tensors, JSON and arrays; a pickle in a tensor file
    or in the replay arrays is refused in one line."""
    dqn = copy(runs, "dqn", tmp_path)
    marker = tmp_path / "pwned"
    newest = checkpoints.latest(dqn)
    replace_member(newest.model, "data", pickle.dumps(Evil(marker)))
    for name in ("vecnormalize.pkl", "replay_buffer.pkl"):
        (newest.path / name).write_bytes(pickle.dumps(Evil(marker)))
    more = newest.timesteps + 32
    run_in_process("experiments.train", [f"resume={dqn}", f"total_timesteps={more}"], tmp_path, monkeypatch, capsys,
                   out=dqn).assert_ok()
    assert checkpoints.latest(dqn).timesteps == more and not marker.exists()

    crafted = {"policy.optimizer.pth": lambda ckpt: replace_member(ckpt.model, "policy.optimizer.pth",
                                                                    pickle.dumps(Evil(marker))),
               "replay_buffer.npz": lambda ckpt: np.savez(ckpt.replay_buffer, pos=np.array(Evil(marker), dtype=object))}
    for fragment, craft in crafted.items():
        run = copy(runs, "dqn", tmp_path / fragment)
        craft(checkpoints.latest(run))
        result = run_in_process("experiments.train", [f"resume={run}", f"total_timesteps={more}"], tmp_path,
                                monkeypatch, capsys, out=run)
        one_line_error(result, "cannot be loaded", fragment if fragment.endswith("npz") else "model.zip")
    assert not marker.exists()


def test_a_refused_resume_leaves_the_run_directory_as_it_was(runs, tmp_path):
    """A resume refused after Hydra started the job (here: a crafted ``policy.pth``, refused by
    ``weights_only``) writes nothing, not even a ``.hydra/resumed-*`` record."""
    run_dir = copy(runs, "ppo", tmp_path)
    marker = tmp_path / "pwned"
    replace_member(checkpoints.latest(run_dir).model, "policy.pth", pickle.dumps(Evil(marker)))
    tree, before = sorted(run_dir.rglob("*")), snapshot(run_dir)
    result = run("experiments.train", [f"resume={run_dir}", "total_timesteps=100000"], runs["base"])
    one_line_error(result, "model.zip", "cannot be loaded")
    assert snapshot(run_dir) == before and sorted(run_dir.rglob("*")) == tree, "the refused resume wrote files"
    assert not marker.exists()


def test_an_interpolation_in_a_run_config_is_refused_unresolved(runs, tmp_path, monkeypatch, capsys):
    """``${oc.env:...}`` in a run's ``config.yaml`` would put the environment into errors and
    model cards: resume, export and benchmark refuse it, naming the key, without resolving it."""
    run_dir = copy(runs, "ppo", tmp_path)
    text = (run_dir / "config.yaml").read_text()
    (run_dir / "config.yaml").write_text(text.replace("  penalty:", "  penalty: ${oc.env:FG_SECRET_TOKEN}\n  was:", 1))
    commands = {"train": [f"resume={run_dir}"], "export": [f"run_dir={run_dir}"],
                "benchmark": ["smoke=true", "agents=[base_stock]", f"models=[{run_dir}]",
                              f"hydra.run.dir={tmp_path / 'bench'}"]}
    monkeypatch.setenv("FG_SECRET_TOKEN", "hunter2-secret")
    for verb, args in commands.items():
        result = run_in_process(f"experiments.{verb}", args, tmp_path, monkeypatch, capsys,
                                out=run_dir if verb == "train" else tmp_path / verb)
        one_line_error(result, "env.penalty is an interpolation")
        assert "hunter2" not in result.stdout + result.stderr, verb
