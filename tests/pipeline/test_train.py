"""End-to-end tests of the training pipeline (``python -m experiments.train``).

Every training is a real subprocess with real components (SB3 / sb3-contrib, Hydra,
TensorBoard, offline wandb, the joblib launcher, the Optuna sweeper) on tiny budgets.
Runs are independent of each other, so a module-scoped :class:`Pipeline` starts the
ones the selected tests need up front, two at a time, and each test waits for its own.

The subprocesses get ``OMP_NUM_THREADS=1`` (torch's default thread pool slows these
tiny networks down several-fold on a busy 2-core machine), run in a scratch working
directory (so a stray ``outputs/`` never lands in the repo), and have wandb pointed at
scratch directories with every network endpoint set to a closed local port.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from agents.rl import checkpoints
from agents.rl.algorithms import algorithm

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300  # seconds for any one subprocess
STARTED: list[subprocess.Popen] = []  # killed at teardown if still running (failed tests)

# Small evaluation and benchmark; no heuristic tuning unless a test asks for it.
FAST = [
    "progress_bar=false", "benchmark.agents=[]", "eval.reps=4", "eval.max_reps=4",
    "eval.periods=200", "eval.warmup=10", "validation.reps=4", "validation.periods=100",
    "validation.warmup=10",
]
ON_POLICY = ["agent.kwargs.n_steps=64", "agent.kwargs.batch_size=64", "agent.kwargs.n_epochs=1"]
OFF_POLICY = ["agent.kwargs.learning_starts=100", "agent.kwargs.buffer_size=1000",
              "agent.kwargs.batch_size=32"]
CONTINUOUS = ["env.action_type=continuous"]

# name -> (total_timesteps, overrides)
AGENTS = {
    "ppo": (1024, [*ON_POLICY, "benchmark.agents=[base_stock]"]),
    "a2c": (512, []),
    "dqn": (400, OFF_POLICY),
    "sac": (400, [*CONTINUOUS, *OFF_POLICY]),
    "td3": (400, [*CONTINUOUS, *OFF_POLICY]),
    "maskable_ppo": (1024, ["env.training.parameterisation=order", *ON_POLICY]),
    "recurrent_ppo": (1024, ON_POLICY),
    "dcl": (128, ["agent.kwargs.n_states=64", "agent.kwargs.reps=4", "agent.kwargs.horizon=4",
                  "agent.kwargs.n_epochs=1"]),
}

MISMATCHES = {
    "dqn_continuous": (["agent=dqn", *CONTINUOUS], "agent=dqn"),
    "sac_discrete": (["agent=sac"], "agent=sac"),
    "negative_lead_time": (["env.lead_time=-1"], "env.lead_time"),
    "maskable_order_up_to": (["agent=maskable_ppo", "env.training.parameterisation=order_up_to"],
                             "env.training.parameterisation=order"),
    "shared_without_a_multi_agent_face": (["shared=true"], "shared"),
    "seed_beyond_2**32": (["seed=4294967296"], "seed"),
    "zero_eval_reps": (["eval.reps=0"], "eval.reps"),
    "negative_max_reps": (["eval.max_reps=-1"], "eval.max_reps"),
    "bad_agent_kwargs": (["agent=ppo", "agent.kwargs.n_steps=-3"], "agent.kwargs"),
    "bogus_wandb_mode": (["logger=wandb", "logger.wandb.mode=bogus"], "logger.wandb.mode"),
    "online_wandb_without_credentials": (["logger=wandb", "logger.wandb.mode=online"], "no W&B credentials"),
    "huge_penalty": (["env.penalty=1e300"], "env.penalty"),
    "huge_demand": (["env.demand.mean=1e18"], "env.demand.mean"),
    # settings used only after training must fail before it too
    "unknown_benchmark_agent": (["benchmark.agents=[base_stock,nope]"], "benchmark.agents"),
    "zero_eval_periods": (["eval.periods=0"], "eval.periods"),
    "dcl_on_a_task_without_a_problem": (["agent=dcl", "env=network"], "has no DCL problem"),
    "dcl_unknown_problem_option": (["agent=dcl", "+agent.problem.bogus=1"], "agent.problem"),
    "dcl_zero_rollouts": (["agent=dcl", "agent.kwargs.reps=0"], "agent.kwargs"),
}


# -- running experiments.train --------------------------------------------------------------
@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    out: Path | None = None  # the run (or sweep) directory

    def explain(self) -> str:
        return (f"python -m experiments.train {' '.join(self.args)}\nexit {self.returncode}\n"
                f"--- stdout (tail)\n{self.stdout[-3000:]}\n--- stderr (tail)\n{self.stderr[-3000:]}")

    def assert_ok(self) -> None:
        assert self.returncode == 0, self.explain()
        assert "Traceback" not in self.stderr, self.explain()

    def assert_one_line_error(self, *fragments: str) -> str:
        lines = self.stderr.strip().splitlines()
        assert self.returncode == 2, self.explain()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.explain()
        for fragment in fragments:
            assert fragment in lines[0], self.explain()
        return lines[0]


def subprocess_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    dead = "http://127.0.0.1:9"  # the discard port: any network attempt fails at once
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
        "COLUMNS": "200", "HYDRA_FULL_ERROR": "1",
        "WANDB_SILENT": "true", "WANDB_BASE_URL": dead, "WANDB_DISABLE_CODE": "true",
        "WANDB_CONFIG_DIR": str(base / "wandb_home" / "config"),
        "WANDB_CACHE_DIR": str(base / "wandb_home" / "cache"),
        "WANDB_DATA_DIR": str(base / "wandb_home" / "data"),
        "WANDB_ARTIFACT_DIR": str(base / "wandb_home" / "artifacts"),
        "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "http_proxy": dead, "https_proxy": dead,
        "HOME": str(base / "home"),  # no ~/.netrc W&B credentials, no shared solver cache
    })
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return env


def start(args: list[str], base: Path, log: Path, cwd: Path | None = None) -> subprocess.Popen:
    """Start ``python -m experiments.train ARGS``; stdout/stderr go to ``log``.{out,err}."""
    cwd = cwd or base / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "experiments.train", *args], cwd=cwd,
                                env=subprocess_env(base), stdout=out, stderr=err,
                                start_new_session=True)
    STARTED.append(proc)
    return proc


def finish(proc: subprocess.Popen, args: list[str], log: Path, out: Path | None = None,
           timeout: float = TIMEOUT) -> Result:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    return Result(args, proc.returncode, Path(f"{log}.out").read_text(),
                  Path(f"{log}.err").read_text(), out)


def train(args: list[str], base: Path, name: str, out: Path | None = None,
          cwd: Path | None = None) -> Result:
    log = base / "logs" / name
    return finish(start(args, base, log, cwd), args, log, out)


# -- the jobs -------------------------------------------------------------------------------
def agent_job(name: str) -> Callable[[Path], Result]:
    def job(base: Path) -> Result:
        total, extra = AGENTS[name]
        out = base / "agents" / name
        half = max(total // 2, 1)
        args = [f"agent={name}", f"total_timesteps={total}", f"validation.freq={half}",
                f"checkpoint.freq={half}", *FAST, *extra, f"hydra.run.dir={out}"]
        return train(args, base, f"agent_{name}", out)

    return job


def mismatch_job(key: str) -> Callable[[Path], Result]:
    def job(base: Path) -> Result:
        out = base / "mismatch" / key
        args = [*FAST, "total_timesteps=512", *MISMATCHES[key][0], f"hydra.run.dir={out}"]
        return train(args, base, f"mismatch_{key}", out)

    return job


def interrupt_job(sig: signal.Signals) -> Callable[[Path], Result]:
    """A run with a large budget, stopped by ``sig`` once its first checkpoint exists."""

    def job(base: Path) -> Result:
        out = base / "interrupt" / sig.name
        log = base / "logs" / f"interrupt_{sig.name}"
        args = ["agent=ppo", "total_timesteps=10000000", "validation.freq=256", "checkpoint.freq=256", *FAST,
                *ON_POLICY, f"hydra.run.dir={out}"]
        proc = start(args, base, log)
        deadline = time.monotonic() + TIMEOUT
        while not list((out / "checkpoints").glob("step_*/meta.json")):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return Result(args, -999, Path(f"{log}.out").read_text(),
                              "no checkpoint appeared\n" + Path(f"{log}.err").read_text(), out)
            time.sleep(0.1)
        proc.send_signal(sig)
        return finish(proc, args, log, out, timeout=120)

    return job


def wandb_job(base: Path) -> Result:
    out = base / "wandb_run"
    args = ["agent=ppo", "logger=wandb", "total_timesteps=512", "validation.freq=256", "checkpoint.freq=256",
            "env.penalty=19", *FAST, *ON_POLICY, f"hydra.run.dir={out}"]
    return train(args, base, "wandb", out)


def multirun_job(base: Path) -> Result:
    sweep = base / "multirun"
    args = ["-m", "seed=0,1", "agent=ppo", "hydra/launcher=local_parallel", f"hydra.sweep.dir={sweep}",
            "total_timesteps=512", "validation.freq=256", "checkpoint.freq=256", *FAST, *ON_POLICY]
    return train(args, base, "multirun", sweep)


def optuna_job(base: Path) -> Result:
    sweep = base / "optuna"
    # benchmark.agents and progress_bar come from the search config itself
    args = ["-m", "hparams_search=ppo_lost_sales", "hydra.sweeper.n_trials=2",
            f"hydra.sweep.dir={sweep}", "total_timesteps=512", "validation.freq=256",
            "checkpoint.freq=256", "eval.reps=4", "eval.max_reps=4", "eval.periods=200",
            "eval.warmup=10", "validation.reps=4", "validation.periods=100", "validation.warmup=10",
            "agent.kwargs.n_steps=64", "agent.kwargs.batch_size=64"]
    return train(args, base, "optuna", sweep)


def help_job(base: Path) -> Result:
    return train(["--help"], base, "help")


JOBS: dict[str, Callable[[Path], Result]] = {
    # longest first: the interrupted runs are followed by a resume in the test itself
    "interrupt:SIGTERM": interrupt_job(signal.SIGTERM),
    "interrupt:SIGINT": interrupt_job(signal.SIGINT),
    "multirun": multirun_job,
    "optuna": optuna_job,
    **{f"agent:{name}": agent_job(name) for name in AGENTS},
    "wandb": wandb_job,
    **{f"mismatch:{key}": mismatch_job(key) for key in MISMATCHES},
    "help": help_job,
}


def needs(*keys: str):
    """Declare the jobs a test uses; ``{param}`` is filled from its parametrisation."""

    def mark(fn):
        fn.needs = keys
        return fn

    return mark


class Pipeline:
    """Runs jobs in the background, two at a time; ``get`` waits for one."""

    def __init__(self, base: Path, prefetch: list[str]):
        self.base = base
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="train")
        self.futures: dict[str, Future] = {}
        for key in sorted(set(prefetch), key=list(JOBS).index):
            self.submit(key)

    def submit(self, key: str) -> Future:
        if key not in self.futures:
            self.futures[key] = self.pool.submit(JOBS[key], self.base)
        return self.futures[key]

    def get(self, key: str) -> Result:
        return self.submit(key).result()


@pytest.fixture(scope="module")
def pipeline(request, tmp_path_factory):
    wanted = []
    for item in request.session.items:
        keys = getattr(getattr(item, "function", None), "needs", ())
        params = getattr(getattr(item, "callspec", None), "params", {})
        wanted += [key.format(**params) for key in keys]
    pipe = Pipeline(tmp_path_factory.mktemp("train"), [k for k in wanted if k in JOBS])
    yield pipe
    pipe.pool.shutdown(wait=False, cancel_futures=True)
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
    pipe.pool.shutdown(wait=True)


# -- helpers --------------------------------------------------------------------------------
def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def load_checkpoint_model(name: str, ckpt: checkpoints.Checkpoint):
    return checkpoints.load_model(algorithm(name).load_class(), ckpt, device="cpu")


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("wandb"))
    return dst


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
        assert ckpt.vecnormalize is not None, ckpt.path
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
def test_dcl_resumes_from_the_command_line(pipeline, tmp_path):
    """``resume=`` continues DCL from its newest checkpoint with one more generation: the
    generation counter, the observation statistics and the timesteps carry over."""
    first = pipeline.get("agent:dcl")
    first.assert_ok()
    run = copy_run(first.out, tmp_path / "run")
    before = json.loads((checkpoints.latest(run).path / "vecnormalize.json").read_text())
    result = train([f"resume={run}", "total_timesteps=192"], pipeline.base, "dcl_resume", run)
    result.assert_ok()
    newest = checkpoints.latest(run)
    assert newest.timesteps == 192
    model = load_checkpoint_model("dcl", newest)
    assert model.generation == 3 and model.num_timesteps == 192
    assert json.loads((newest.path / "vecnormalize.json").read_text())["obs"] == before["obs"]
    assert [int(r["timesteps"]) for r in read_csv(run / "eval.csv")] == [64, 128, 192]


# -- 2. configuration mismatches fail before training ---------------------------------------
@needs("mismatch:{key}")
@pytest.mark.parametrize("key", list(MISMATCHES))
def test_mismatch_fails_before_training(pipeline, key):
    result = pipeline.get(f"mismatch:{key}")
    result.assert_one_line_error(MISMATCHES[key][1])
    assert "Traceback" not in result.stdout
    assert not (result.out / "config.yaml").exists()
    assert not (result.out / "checkpoints").exists()


# -- 3. SIGTERM / SIGINT stop cleanly; resume continues --------------------------------------
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
    assert newest.vecnormalize is not None
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


# -- 4. corrupt or missing checkpoints; crash mid-write --------------------------------------
@needs("agent:ppo")
def test_resume_refuses_corrupt_checkpoint(pipeline, tmp_path):
    pipeline.get("agent:ppo").assert_ok()
    run = copy_run(pipeline.get("agent:ppo").out, tmp_path / "run")
    newest = checkpoints.latest(run)
    newest.model.write_bytes(b"this is not a zip file" * 10)
    result = train([f"resume={run}", "total_timesteps=4096"], pipeline.base, "corrupt", run)
    result.assert_one_line_error(str(newest.model))
    assert checkpoints.latest(run).path == newest.path, "no new checkpoint after a failure"


@needs("agent:ppo")
def test_resume_without_run_dir_or_checkpoints(pipeline, tmp_path):
    empty = tmp_path / "no_checkpoints"
    empty.mkdir()
    shutil.copy(pipeline.get("agent:ppo").out / "config.yaml", empty / "config.yaml")
    missing = tmp_path / "does_not_exist"
    log = pipeline.base / "logs"
    cases = {"missing": ([f"resume={missing}"], str(missing)),
             "empty": ([f"resume={empty}"], "no checkpoint")}
    procs = {k: start(args, pipeline.base, log / f"resume_{k}") for k, (args, _) in cases.items()}
    for key, proc in procs.items():
        args, fragment = cases[key]
        finish(proc, args, log / f"resume_{key}").assert_one_line_error("resume", fragment)


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


# -- 5. wandb (offline) ---------------------------------------------------------------------
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


# -- 6. TensorBoard KPI tags ----------------------------------------------------------------
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


# -- 7. multirun with the joblib launcher ---------------------------------------------------
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


# -- 8. --help ------------------------------------------------------------------------------
@needs("help")
def test_help_lists_config_groups(pipeline):
    result = pipeline.get("help")
    result.assert_ok()
    listed = dict(re.findall(r"^(\w+): (.+)$", result.stdout.split("== Config ==")[0], re.M))
    for group in ("env", "agent", "logger", "experiment", "hparams_search"):
        options = sorted(p.stem for p in (ROOT / "configs" / group).glob("*.yaml"))
        if not options:  # Hydra lists only groups that have options
            assert group not in listed
            continue
        assert listed.get(group, "").split(", ") == options, (group, listed)
    assert set(listed["agent"].split(", ")) == {"ppo", "a2c", "dqn", "sac", "td3", "maskable_ppo",
                                                "recurrent_ppo", "dcl"}
    assert set(listed["env"].split(", ")) >= {"lost_sales", "fulfillment_center"}


# -- 9. the Optuna search -------------------------------------------------------------------
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
