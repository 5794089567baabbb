"""Speed cases of the fulfilment-centre task (``python -m experiments.speed --task fulfillment_center``).

On one core (torch is not involved), for N = 100, 1,000 and 10,000 SKUs:

* **SKU-steps per second**, resets included: ``env.unwrapped.step`` in a loop with pre-drawn
  random actions over whole episodes (365 periods, then ``reset``), N SKU-steps per env
  step; the default synthetic catalogue with the default demand model, and with
  seasonality and promotions switched on;
* the bare simulator (``FulfillmentSimulator.step`` with order quantities, no observation);
* resets per second;

and, at 4 copies x 100 SKUs, the parameter-sharing training VecEnv (the agent batch
``FulfillmentAgentBatch`` behind ``agents.rl.vec_env.AgentBatchVecEnv``, exactly what
training steps) against SuperSuit's conversion of the PettingZoo env (``supersuit`` from
the ``bench`` extra); and the peak traced allocation while building the 10,000-SKU env and
playing one episode.

Goals: >= 10 million SKU-steps/s through ``env.step`` at N = 1,000; reset < 10 ms; the
shared VecEnv faster than SuperSuit's.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from agents.speed_case import SpeedCase

SIZES = (100, 1000, 10000)
SEASONAL = {"weekly": [0.9, 0.95, 1.0, 1.0, 1.1, 1.2, 0.85], "yearly_amplitude": 0.3, "promo_probability": 0.01}
GOAL_RATE, GOAL_RESET_MS = 10e6, 10.0
OWN, SUPERSUIT = "shared-policy VecEnv (4 x 100 SKUs)", "SuperSuit VecEnv (4 x 100 SKUs)"


def _timed(step, seconds: float, per_call: int) -> float:
    """Calls of ``step`` per second x ``per_call``, over about ``seconds``."""
    calls, start = 0, time.perf_counter()
    while True:
        for _ in range(50):
            step()
        calls += 50
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return per_call * calls / elapsed


def env_case(n: int, demand: dict | None = None, label: str = "env.step") -> SpeedCase:
    def run(seconds: float) -> float:
        from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

        env = FulfillmentCenterEnv(n_skus=n, demand=demand or {})
        rng = np.random.default_rng(0)
        actions = [rng.integers(0, len(env.config.order_multiples), size=n) for _ in range(16)]
        env.reset(seed=0)
        k = [0]

        def step():
            _, _, _, truncated, _ = env.step(actions[k[0] & 15])
            k[0] += 1
            if truncated:
                env.reset()

        return _timed(step, seconds, n)

    return SpeedCase(f"{label} (N={n:,})", "SKU-steps/s", run)


def simulator_case(n: int) -> SpeedCase:
    def run(seconds: float) -> float:
        from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

        env = FulfillmentCenterEnv(n_skus=n)
        sim, length = env.sim, env.config.episode_length
        rng = np.random.default_rng(0)
        orders = [np.rint(rng.random(n) * 3 * env.problem.mean_demand).astype(np.int64) for _ in range(16)]
        sim.reset(np.random.default_rng(0))
        k = [0]

        def step():
            sim.step(orders[k[0] & 15])
            k[0] += 1
            if sim.t >= length:
                sim.reset(sim.rng)

        return _timed(step, seconds, n)

    return SpeedCase(f"simulator.step (N={n:,})", "SKU-steps/s", run)


def reset_case(n: int) -> SpeedCase:
    def run(seconds: float) -> float:
        from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

        env = FulfillmentCenterEnv(n_skus=n)
        env.reset(seed=0)
        seed = [0]

        def reset():
            seed[0] += 1
            env.reset(seed=seed[0])

        return _timed(reset, seconds, 1)

    return SpeedCase(f"env.reset (N={n:,})", "resets/s", run)


def vec_env_case(supersuit: bool) -> SpeedCase:
    def run(seconds: float) -> float:
        if supersuit:
            import supersuit as ss

            from envs import fulfillment_center_v0

            venv = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(fulfillment_center_v0.parallel_env(n_skus=100)),
                                         4, num_cpus=0, base_class="stable_baselines3")
        else:
            from agents.rl.vec_env import AgentBatchVecEnv
            from envs.replenishment.fulfillment_center.config import FulfillmentConfig
            from envs.replenishment.fulfillment_center.shared import FulfillmentAgentBatch

            venv = AgentBatchVecEnv(FulfillmentAgentBatch(FulfillmentConfig(n_skus=100).build(), n_copies=4))
        actions = np.random.default_rng(0).integers(0, 9, size=(16, venv.num_envs))
        venv.reset()
        k = [0]

        def step():
            venv.step(actions[k[0] & 15])
            k[0] += 1

        return _timed(step, seconds, venv.num_envs)

    return SpeedCase(SUPERSUIT if supersuit else OWN, "SKU-steps/s", run)


def memory_case(n: int) -> SpeedCase:
    def run(seconds: float) -> float:
        from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

        tracemalloc.start()
        env = FulfillmentCenterEnv(n_skus=n)
        rng = np.random.default_rng(0)
        env.reset(seed=0)
        for _ in range(env.config.episode_length):
            env.step(rng.integers(0, len(env.config.order_multiples), size=n))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak / 2**20

    return SpeedCase(f"peak traced memory, build + one episode (N={n:,})", "MB", run, per_step=False, ratio=False,
                     higher_is_better=False)


def speed_cases() -> list[SpeedCase]:
    cases: list[SpeedCase] = []
    for n in SIZES:
        cases += [env_case(n), env_case(n, SEASONAL, "env.step, seasonal + promotions"), simulator_case(n), reset_case(n)]
    cases += [vec_env_case(False)]
    try:
        import supersuit  # noqa: F401

        cases.append(vec_env_case(True))
    except ImportError:  # the bench extra is not installed: the comparison is skipped
        pass
    return cases + [memory_case(max(SIZES))]


def speed_notes(rates: dict[str, float], reference: float) -> list[str]:
    notes = []
    headline, reset = "env.step (N=1,000)", "env.reset (N=1,000)"
    if headline in rates:
        rate = rates[headline]
        notes.append(f"Goal at N = 1,000: >= 10M SKU-steps/s through env.step: "
                     f"{'met' if rate >= GOAL_RATE else 'NOT met'} ({rate / 1e6:.2f}M).")
    if reset in rates:
        ms = 1000 / rates[reset]
        notes.append(f"Reset at N = 1,000: {ms:.2f} ms (goal < {GOAL_RESET_MS:g} ms: "
                     f"{'met' if ms < GOAL_RESET_MS else 'NOT met'}).")
    if OWN in rates and SUPERSUIT in rates:
        ratio = rates[OWN] / rates[SUPERSUIT]
        notes.append(f"The shared-policy VecEnv runs {ratio:.1f}x SuperSuit's conversion of the PettingZoo env "
                     f"({'ahead' if ratio > 1 else 'NOT ahead'}).")
    return notes
