"""Speed cases of the lost-sales task (``python -m experiments.speed --task lost_sales``).

* env steps per second of ``env.unwrapped.step`` in a tight loop (no wrappers, no agent;
  pre-drawn random discrete actions; LostSales-v0 never terminates) for the default config,
  ``lead_time=4`` and ``backorders=True``;
* period-steps per second of ``BatchSimulator`` at a batch of 1024 replications driven by a
  base-stock (order-up-to) rule, the engine of evaluation and tuning.

Goal: a raw LostSales-v0 rate of at least twice CartPole-v1's (measured in the same process).
"""

from __future__ import annotations

import time

import numpy as np

from agents.task import SpeedCase

GOAL_RATIO = 2.0
HEADLINE = "LostSales-v0 (default: L=2, lost sales)"


def env_case(label: str, kwargs: dict) -> SpeedCase:
    def run(seconds: float) -> float:
        import gymnasium

        import envs  # noqa: F401

        env = gymnasium.make("fulfillgym/LostSales-v0", **kwargs).unwrapped
        actions = np.random.default_rng(0).integers(0, env.action_space.n, size=4096).tolist()
        env.reset(seed=0)
        step, steps, start = env.step, 0, time.perf_counter()
        while True:
            for action in actions:
                step(action)
            steps += len(actions)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return steps / elapsed

    return SpeedCase(label, "steps/s", run)


def batch_case(batch: int = 1024, periods: int = 1000) -> SpeedCase:
    def run(seconds: float) -> float:
        from agents.lost_sales.rollout import Replications
        from envs.replenishment.lost_sales.config import LostSalesConfig
        from envs.replenishment.lost_sales.simulator import BatchSimulator

        config = LostSalesConfig()
        level = config.newsvendor_level()
        scenario = Replications.from_seeds(config, np.arange(batch), periods)
        done, start = 0, time.perf_counter()
        while True:
            sim = BatchSimulator(config, scenario.on_hand, scenario.pipeline)
            for t in range(periods):
                position = sim.observation().sum(axis=1)
                sim.step(np.clip(level - position, 0, config.q_max).astype(np.int64), scenario.demand[:, t])
            done += batch * periods
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return done / elapsed

    return SpeedCase(f"BatchSimulator (batch {batch}, base-stock rule)", "period-steps/s", run)


def speed_cases() -> list[SpeedCase]:
    return [env_case(HEADLINE, {}), env_case("LostSales-v0 (L=4)", {"lead_time": 4}),
            env_case("LostSales-v0 (backorders)", {"backorders": True}), batch_case()]


def speed_notes(rates: dict[str, float], reference: float) -> list[str]:
    ratio = rates[HEADLINE] / reference
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    return [f"LostSales-v0 (default config) runs at {ratio:.2f}x CartPole-v1's raw step rate; "
            f"goal >= {GOAL_RATIO:g}x: {verdict}."]
