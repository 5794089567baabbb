"""Speed of every task's environments, against Gymnasium's CartPole-v1 measured in the same
process (machines differ up to 3x; the ratio to CartPole travels between them).

    python -m experiments.speed                               # every registered task
    python -m experiments.speed --task lost_sales --write     # ... and write docs/benchmarks/lost_sales_speed.md

Each task lists its cases (``agents.speed_case.speed_cases``: env steps per second, batched simulators,
training VecEnvs, memory); every task also gets PPO's training throughput on its training
VecEnv (and on its agent batch, with ``shared=true``). CartPole-v1's raw ``env.unwrapped.step`` rate (random actions,
reset on termination) is measured in every repeat, interleaved with the cases, so slow
drifts of the machine hit every figure alike. Each figure is the best of ``--repeats``
runs of about ``--seconds`` each; ratios are to the best CartPole rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np
from rich.console import Console
from rich.table import Table

from agents.registry import TASKS, task_class
from agents.speed_case import SpeedCase, speed_cases, speed_description, speed_notes

REFERENCE = "CartPole-v1 (raw env.step)"


def cartpole_case() -> SpeedCase:
    def run(seconds: float) -> float:
        env = gymnasium.make("CartPole-v1").unwrapped
        actions = np.random.default_rng(0).integers(0, 2, size=4096).tolist()
        env.reset(seed=0)
        step, reset, steps, start = env.step, env.reset, 0, time.perf_counter()
        while True:
            for action in actions:
                _, _, terminated, truncated, _ = step(action)
                if terminated or truncated:
                    reset()
            steps += len(actions)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return steps / elapsed

    return SpeedCase(REFERENCE, "steps/s", run)


def training_case(task, shared: bool) -> SpeedCase:
    """PPO training throughput on the task's training VecEnv (4 copies, VecNormalize, one torch
    thread; the rollout and minibatches of ``configs/agent/ppo.yaml``, or of
    ``experiment=fulfillment_center_shared_ppo`` when shared): timesteps per second of
    ``model.learn``, rollouts and gradient updates included."""

    def run(seconds: float) -> float:
        import torch
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import VecNormalize

        from agents.rl.vec_env import base_venv

        torch.set_num_threads(1)
        venv = VecNormalize(base_venv(task, 4, 0, shared))
        n_steps, batch, epochs = (64, 3200, 5) if shared else (512, 256, 10)
        model = PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=min(batch, n_steps * venv.num_envs),
                    n_epochs=epochs, seed=0, device="cpu", verbose=0)
        chunk = n_steps * venv.num_envs
        model.learn(chunk)  # warm-up: the first rollout builds the buffers
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model.learn(chunk, reset_num_timesteps=False)
            done += chunk
        return done / (time.perf_counter() - start)

    unit = "agent-steps/s" if shared else "env steps/s"
    return SpeedCase(f"PPO training ({'shared over agents, ' if shared else ''}4 copies)", unit, run)


def positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
        return value

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m experiments.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), action="append",
                        help="a registered task (repeatable; default: every task)")
    parser.add_argument("--seconds", type=positive(float), default=1.0, help="duration of each timed run (1.0)")
    parser.add_argument("--repeats", type=positive(int), default=3, help="timed runs per case; the best counts (3)")
    parser.add_argument("--no-training", action="store_true", help="skip the PPO training-throughput cases")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks/<task>_speed.md per task")
    parser.add_argument("--docs", type=Path, default=Path("docs/benchmarks"), help="where --write writes")
    return parser.parse_args(argv)


def measure(cases: list[SpeedCase], args, console: Console) -> dict[str, float]:
    figures: dict[str, list[float]] = {c.label: [] for c in cases}
    for repeat in range(args.repeats):
        console.log(f"repeat {repeat + 1}/{args.repeats}")
        for case in cases:  # interleaved, so slow drifts hit every case alike
            figures[case.label].append(case.run(args.seconds))
    return {c.label: (max if c.higher_is_better else min)(figures[c.label]) for c in cases}


def rows(cases: list[SpeedCase], best: dict[str, float], reference: float) -> list[tuple[str, ...]]:
    out = []
    for case in cases:
        value = best[case.label]
        per = (f"{1e6 / value:.3f} µs" if value < 1e6 else f"{1e9 / value:.1f} ns") if case.per_step else ""
        r = value / reference
        ratio = (f"{r:.2f}x" if r >= 0.01 else f"{r:.2e}x") if case.ratio else ""  # days/s vs steps/s: tiny
        figure = f"{value:,.0f} {case.unit}" if value >= 100 else f"{value:,.2f} {case.unit}"
        out.append((case.label, figure, per, ratio))
    return out


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unavailable"
    return [f"CPU: {cpu} ({os.cpu_count()} logical CPUs); Python {platform.python_version()}, NumPy {np.__version__}, "
            f"Gymnasium {gymnasium.__version__}; load average {load}; "
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}"]


def markdown(name: str, table: list[tuple[str, ...]], notes: list[str], args, command: str, about: str) -> str:
    lines = [f"# Speed: {name}", "", "Generated by `experiments/speed.py`; numbers depend on the machine and its load,",
             "the ratios to CartPole-v1 (measured in the same process, interleaved) much less.", "",
             f"Command: `{command}`", "", *machine(), "", *([about.strip(), ""] if about.strip() else []),
             "PPO training (every task): timesteps per second of `model.learn` on the task's training VecEnv",
             "(4 copies, VecNormalize, one torch thread), rollouts and gradient updates included.", "",
             f"Best of {args.repeats} runs of {args.seconds:g} s per case.", "",
             "| case | figure | time per unit | vs CartPole-v1 |", "|---|---:|---:|---:|",
             *(f"| {' | '.join(row)} |" for row in table), "", *notes, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    for name in args.task or sorted(TASKS):
        task = task_class(name)()
        cases = [cartpole_case(), *speed_cases(task)]
        if not args.no_training:
            cases.append(training_case(task, False))
            if task.shared_batch(1, 0) is not None:
                cases.append(training_case(task, True))
        best = measure(cases, args, console)
        reference = best[REFERENCE]
        table = rows(cases, best, reference)
        view = Table(title=f"{name}: speed (best of {args.repeats})", title_justify="left")
        for col, justify in [("case", "left"), ("figure", "right"), ("time per unit", "right"), ("vs CartPole-v1", "right")]:
            view.add_column(col, justify=justify)
        for row in table:
            view.add_row(*row)
        console.print(view)
        notes = speed_notes(task, best, reference)
        for note in notes:
            console.print(note)
        if args.write:
            given = sys.argv[1:] if argv is None else argv
            target = args.docs / f"{name}_speed.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            command = shlex.join(["python", "-m", "experiments.speed", *given])
            target.write_text(markdown(name, table, notes, args, command, speed_description(task)))
            console.print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
