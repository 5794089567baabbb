"""Running ``python -m experiments.train`` for the pipeline tests (``test_train_*.py``).

Every training is a real subprocess with real components (SB3 / sb3-contrib, Hydra,
TensorBoard, offline wandb, the joblib launcher, the Optuna sweeper) on tiny budgets.
Runs are independent of each other, so the module-scoped ``pipeline`` fixture
(``tests/pipeline/conftest.py``) starts the ones its module's tests need up front, two at a
time, and each test waits for its own. Commands that fail before training starts run
in this process instead (:func:`train_in_process`): the same ``main``, without the start-up
of a new interpreter.

The environment of either way (threads, scratch directories, wandb offline with no
network): ``tests/entry_points.py``.
"""

from __future__ import annotations

import csv
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from agents.rl import checkpoints
from tests.entry_points import TIMEOUT, Result, run_in_process, subprocess_env

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

# -- running experiments.train --------------------------------------------------------------
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
    return Result("experiments.train", args, proc.returncode, Path(f"{log}.out").read_text(),
                  Path(f"{log}.err").read_text(), out)


def train(args: list[str], base: Path, name: str, out: Path | None = None,
          cwd: Path | None = None) -> Result:
    log = base / "logs" / name
    return finish(start(args, base, log, cwd), args, log, out)



def train_in_process(args: list[str], base: Path, out: Path, monkeypatch, capsys) -> Result:
    """``experiments.train``'s ``main`` on ``args`` in this process (``tests.entry_points``)."""
    return run_in_process("experiments.train", args, base, monkeypatch, capsys, out)


# -- the jobs -------------------------------------------------------------------------------
def agent_args(name: str, base: Path) -> tuple[list[str], Path]:
    """The arguments and run directory of agent ``name``'s tiny training (``AGENTS``)."""
    total, extra = AGENTS[name]
    out = base / "agents" / name
    half = max(total // 2, 1)
    return [f"agent={name}", f"total_timesteps={total}", f"validation.freq={half}", f"checkpoint.freq={half}",
            *FAST, *extra, f"hydra.run.dir={out}"], out


def agent_job(name: str) -> Callable[[Path], Result]:
    def job(base: Path) -> Result:
        args, out = agent_args(name, base)
        return train(args, base, f"agent_{name}", out)

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
                return Result("experiments.train", args, -999, Path(f"{log}.out").read_text(),
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


# -- helpers --------------------------------------------------------------------------------
def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def load_checkpoint_model(name: str, ckpt: checkpoints.Checkpoint):
    """The run's model (algorithm ``name``) with the checkpoint's weights, optimizer states and
    counters, loaded as resume loads them (pickle-free), without its replay buffer."""
    from agents.rl.loading import open_run, spaces_model

    run = open_run(ckpt.path.parents[1] if ckpt.path.parent.name == "checkpoints" else ckpt.path.parent)
    assert run.agent == name, (run.agent, name)
    model = spaces_model(run)
    checkpoints.restore(model, ckpt, replay=False)
    return model


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("wandb"))
    return dst
