"""SB3 callbacks of a training run: KPIs, periodic evaluation, checkpoints, signals."""

from __future__ import annotations

import csv
import signal
import time
from pathlib import Path

from stable_baselines3.common.callbacks import BaseCallback

from agents.rl import checkpoints


class TrainingKPIs(BaseCallback):
    """Cost and fill rate of the training episodes, logged as ``train/...`` each rollout, and
    any ``episode_kpis`` an env reports at an episode's end (e.g. fill rate by popularity
    class), logged as ``train/<key>``."""

    def __init__(self):
        super().__init__()
        self._reset()

    def _reset(self):
        self.sums = {"cost": 0.0, "demand": 0.0, "sales": 0.0, "steps": 0}

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            for key, value in info.get("episode_kpis", {}).items():
                self.logger.record_mean(f"train/{key}", value)
            if "cost" in info:
                self.sums["cost"] += info["cost"]
                self.sums["steps"] += 1
            if "sales" in info and "demand" in info:
                self.sums["demand"] += info["demand"]
                self.sums["sales"] += info["sales"]
        return True

    def _on_rollout_end(self) -> None:
        if self.sums["steps"]:
            self.logger.record("train/cost_per_period", self.sums["cost"] / self.sums["steps"])
            if self.sums["demand"]:
                self.logger.record("train/fill_rate", self.sums["sales"] / self.sums["demand"])
        self._reset()


class EveryTimesteps(BaseCallback):
    """Calls :meth:`fire` whenever ``num_timesteps`` crosses a multiple of ``freq`` (counted
    from zero, so a resumed run keeps the same schedule)."""

    def __init__(self, freq: int):
        super().__init__()
        self.freq = freq
        self._next = None

    def _on_training_start(self) -> None:
        self._next = (self.model.num_timesteps // self.freq + 1) * self.freq

    def _on_step(self) -> bool:
        if self.model.num_timesteps >= self._next:
            self._next += self.freq
            self.fire()
        return True

    def fire(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class PeriodicEvaluation(EveryTimesteps):
    """Evaluate the current policy on validation seeds every ``freq`` timesteps.

    ``make_policy(model, training_env)`` is the current policy; ``score(policy)`` returns a
    row of metrics with at least ``mean_cost`` (lower is better; ``experiments.train``'s
    validation score). Every metric is logged as ``eval/<key>`` and appended to
    ``eval.csv`` after ``timesteps`` and ``wall_seconds`` (the run's wall time when the
    evaluated policy was ready: training and earlier validations, ``previous_seconds`` of a
    resumed run included); the best model so far is kept in ``best/``.
    """

    def __init__(self, make_policy, score, freq: int, out: Path, meta: dict, previous_seconds: float = 0.0):
        super().__init__(freq)
        self.make_policy, self.score = make_policy, score
        self.started = time.perf_counter() - previous_seconds
        self.out, self.meta = Path(out), meta
        self.best = float("inf")
        self.last_timesteps = -1  # timesteps of the latest evaluation
        self.history_file = self.out / "eval.csv"
        if self.history_file.exists():
            with self.history_file.open() as fh:
                costs = [float(r["mean_cost"]) for r in csv.DictReader(fh)]
            self.best = min(costs, default=self.best)

    def fire(self) -> None:
        self.evaluate()

    def evaluate(self) -> float:
        wall = round(time.perf_counter() - self.started, 3)
        policy = self.make_policy(self.model, self.training_env)
        self.last_timesteps = self.model.num_timesteps
        row = {"timesteps": self.model.num_timesteps, "wall_seconds": wall, **self.score(policy)}
        for key, value in row.items():
            if key not in ("timesteps", "wall_seconds"):
                self.logger.record(f"eval/{key}", value)
        self.logger.dump(self.model.num_timesteps)
        new = not self.history_file.exists()
        fields = list(row)
        if not new:  # keep the file's columns (a run resumed from before wall_seconds existed)
            with self.history_file.open(newline="") as fh:
                fields = next(csv.reader(fh), fields)
        with self.history_file.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
        if row["mean_cost"] < self.best:
            self.best = row["mean_cost"]
            checkpoints.save(self.model, self.training_env, self.out / "best",
                             {**self.meta, "eval_mean_cost": row["mean_cost"]})
        return row["mean_cost"]


# process CPU time when the current training job started (``job_started``): a Hydra multirun
# with the basic launcher runs its jobs one after another in one process
_JOB_CPU_START = 0.0


def job_started() -> None:
    """Mark the start of a training job (``experiments.train``): ``cpu_seconds`` counts from here."""
    global _JOB_CPU_START
    _JOB_CPU_START = time.process_time()


class PeriodicCheckpoint(EveryTimesteps):
    """Atomic checkpoint every ``freq`` timesteps (and one at the end of training)."""

    def __init__(self, out: Path, freq: int, keep: int, meta: dict, previous_seconds: float = 0.0,
                 previous_cpu_seconds: float = 0.0):
        super().__init__(freq)
        self.out, self.keep, self.meta = Path(out), keep, meta
        self.started = time.perf_counter() - previous_seconds  # a resumed run keeps counting
        # CPU time since the job started (setup included), plus that of the run before a resume
        self.cpu_started = _JOB_CPU_START - previous_cpu_seconds

    def fire(self) -> None:
        self.save()

    def save(self) -> Path:
        # cpu_seconds: CPU time of the training process (every thread), what a busy machine's
        # wall time overstates
        meta = {**self.meta, "wall_seconds": time.perf_counter() - self.started,
                "cpu_seconds": time.process_time() - self.cpu_started}
        return checkpoints.save_step(self.model, self.training_env, self.out, meta, self.keep)


class GracefulStop(BaseCallback):
    """On SIGINT/SIGTERM: finish the current step, save a checkpoint, stop training."""

    def __init__(self, checkpointer: PeriodicCheckpoint):
        super().__init__()
        self.checkpointer = checkpointer
        self.signal: int | None = None
        self.saved_at: int | None = None  # timesteps of the checkpoint taken on the signal
        self._previous = {}

    def _handler(self, signum, frame):
        self.signal = signum

    def _on_training_start(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handler)

    def _on_step(self) -> bool:
        if self.signal is None:
            return True
        self.checkpointer.save()
        self.saved_at = self.model.num_timesteps
        return False

    def _on_training_end(self) -> None:
        # a signal after the last step (e.g. during the final gradient update) still
        # gets its checkpoint: the run is reported as interrupted either way
        if self.signal is not None and self.saved_at != self.model.num_timesteps:
            self.checkpointer.save()
            self.saved_at = self.model.num_timesteps
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)



class StopAtBudget(BaseCallback):
    """Stops training when ``num_timesteps`` reaches ``total`` inside an unfinished rollout
    (SB3 would finish the rollout and overshoot), so that every run, resumed or not, ends
    exactly at its budget; the unfinished rollout is discarded without a gradient step. A
    rollout that the budget completes is still trained on."""

    def __init__(self, total: int):
        super().__init__()
        self.total = int(total)

    def _on_step(self) -> bool:
        if self.model.num_timesteps < self.total:
            return True
        rollout = self.locals.get("n_rollout_steps")  # on-policy: steps per rollout
        return rollout is not None and self.locals.get("n_steps", 0) + 1 >= rollout
