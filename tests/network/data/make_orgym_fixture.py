"""Generate the OR-Gym InvManagement-v1 fixture (and optionally time OR-Gym's step rate).

THIS SCRIPT DOES NOT RUN IN THE PROJECT VENV. It needs OR-Gym 0.5.0 and its old gym
(<= 0.19) in a throwaway virtualenv outside the repository, e.g.::

    python3 -m venv /tmp/orgym_venv_h2
    /tmp/orgym_venv_h2/bin/pip install "setuptools<66" "wheel<0.38"
    /tmp/orgym_venv_h2/bin/pip install --no-build-isolation gym==0.19.0
    /tmp/orgym_venv_h2/bin/pip install "numpy<2" "scipy<1.14" "pandas<2.3" \
        matplotlib networkx or-gym==0.5.0
    /tmp/orgym_venv_h2/bin/python tests/network/data/make_orgym_fixture.py
    /tmp/orgym_venv_h2/bin/python tests/network/data/make_orgym_fixture.py --bench

It is deliberately not named ``test_*`` so pytest never collects it. The project's test
``tests/network/test_orgym_reference.py`` only reads the CSV this script writes.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("orgym_invmanagement_v1.csv")

# (episode, seed, action kind, low, high). The seed is OR-Gym's ``seed_int`` (it seeds the
# global NumPy RNG that scipy.stats.poisson draws demand from, once, in __init__) and also
# the seed of a separate numpy Generator that draws the actions.
EPISODES = [
    (0, 0, "int", 0, 100),
    (1, 1, "int", 0, 100),
    (2, 2, "int", 0, 100),
    # low, fractional and sometimes negative orders: exercises truncation toward zero,
    # the max(0, .) floor and retailer stock-outs (lost sales at stage 0).
    (3, 3, "float", -5.0, 40.0),
]


def _actions(kind: str, low: float, high: float, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "int":
        return rng.integers(int(low), int(high), size=(n, 3), endpoint=True).astype(float)
    return np.round(rng.uniform(low, high, size=(n, 3)), 2)


def _reference():
    """Load tests/network/orgym_reference.py by path (pure NumPy, no project imports)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "orgym_reference.py"
    spec = importlib.util.spec_from_file_location("orgym_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_fixture() -> None:
    import or_gym

    rows: list[dict] = []
    observations: list[np.ndarray] = []
    for ep, seed, kind, low, high in EPISODES:
        env = or_gym.make("InvManagement-v1", env_config={"seed_int": seed})
        env.reset()
        rng = np.random.default_rng(seed)
        acts = _actions(kind, low, high, rng, env.num_periods)
        for n in range(env.num_periods):
            obs, reward, done, _ = env.step(acts[n].copy())
            assert reward == env.P[n]
            assert done == (n == env.num_periods - 1)
            assert np.array_equal(obs[:3], env.I[n + 1])
            row = {"episode": ep, "seed": seed, "period": n, "demand": env.D[n]}
            for i in range(3):
                row[f"action_{i}"] = acts[n, i]
            for i in range(3):
                row[f"order_{i}"] = env.R[n, i]  # shipped replenishment (after clipping)
            for i in range(3):
                row[f"inv_{i}"] = env.I[n + 1, i]  # on hand at end of period n
            for i in range(3):
                row[f"pipeline_{i}"] = env.T[n + 1, i]  # in transit to stage i, end of n
            for i in range(4):
                row[f"sales_{i}"] = env.S[n, i]
            for i in range(4):
                row[f"lost_{i}"] = env.LS[n, i]
            for i in range(4):
                row[f"backlog_{i}"] = env.B[n, i]
            row["profit"] = env.P[n]
            row["reward"] = reward
            rows.append(row)
            observations.append(np.asarray(obs, dtype=float))
        # cross-check the observation layout against our pure-NumPy restatement
        ref = _reference().orgym_reference_episode(env.D, acts)
        assert np.array_equal(ref["observation"], np.array(observations[-env.num_periods :]))
        assert np.allclose(ref["profit"], env.P, rtol=1e-12, atol=1e-9)
    with OUT.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: repr(float(v)) if not isinstance(v, int) else v for k, v in r.items()})
    print(f"wrote {len(rows)} rows to {OUT}")


def _rate(step, reset, sample, seconds: float) -> tuple[float, int]:
    reset()
    n = 0
    t0 = time.perf_counter()
    while True:
        for _ in range(200):
            done = step(sample())[2]
            n += 1
            if done:
                reset()
        el = time.perf_counter() - t0
        if el >= seconds:
            return n / el, n


def bench(seconds: float = 5.0) -> None:
    import platform

    import gym
    import or_gym
    import scipy

    env = or_gym.make("InvManagement-v1")
    space = env.action_space
    space.seed(0)
    r_or, n_or = _rate(env.step, env.reset, space.sample, seconds)
    # the same but with pre-drawn actions, so action sampling is not timed
    pre = np.random.default_rng(0).integers(0, 101, size=(4096, 3))
    it = iter(range(10**12))
    r_or_pre, _ = _rate(env.step, env.reset, lambda: pre[next(it) % 4096], seconds)

    cp = gym.make("CartPole-v1")
    cp.seed(0)
    cp.action_space.seed(0)
    r_cp, n_cp = _rate(cp.step, cp.reset, cp.action_space.sample, seconds)
    raw = cp.unwrapped
    r_cp_raw, _ = _rate(raw.step, raw.reset, cp.action_space.sample, seconds)
    print(
        f"python {platform.python_version()} numpy {np.__version__} scipy {scipy.__version__} "
        f"gym {gym.__version__} or-gym {or_gym.__version__}"
    )
    print(f"InvManagement-v1 env.step, action_space.sample(): {r_or:,.0f} steps/s ({n_or} steps)")
    print(f"InvManagement-v1 env.step, pre-drawn actions:     {r_or_pre:,.0f} steps/s")
    print(f"CartPole-v1 gym.make (TimeLimit) step:            {r_cp:,.0f} steps/s ({n_cp} steps)")
    print(f"CartPole-v1 unwrapped step:                       {r_cp_raw:,.0f} steps/s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", action="store_true", help="time env.step instead of writing")
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    if a.bench:
        bench(a.seconds)
    else:
        make_fixture()
