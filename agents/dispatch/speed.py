"""Speed cases of the dispatch task (``python -m experiments.speed --task dispatch``).

* simulated days per second of ``SameDayDeliveryEnv`` (the default instance: about 300
  orders, 10 vehicles, 15-minute epochs, the insertion router) with random actions (each
  shown order dispatched with probability 1/2), and with the greedy rule (dispatch all);
* decision epochs per second of the courier env (``courier_dispatch_v0``) with random legal
  actions;
* routing problems per second of the insertion router alone, on epoch-sized problems (20
  orders, 10 idle vehicles, the default costs).

Goal: one simulated day of the default instance in at most 50 ms (at least 20 days/s) with
random actions.
"""

from __future__ import annotations

import numpy as np

from agents.speed_case import SpeedCase, timed

GOAL_DAYS = 20.0
HEADLINE = "SameDayDelivery-v0 (default day, random actions)"



def env_case(label: str, greedy: bool) -> SpeedCase:
    def run(seconds: float) -> float:
        from envs.dispatch.env import SameDayDeliveryEnv

        env = SameDayDeliveryEnv()
        rng = np.random.default_rng(0)
        K = env.config.max_orders

        def day(k: int) -> int:
            env.reset(seed=k)
            done = False
            while not done:
                bits = np.ones(K, np.int8) if greedy else (rng.random(K) < 0.5).astype(np.int8)
                done = env.step(bits)[2]
            return 1

        return timed(seconds, day)

    return SpeedCase(label, "days/s", run)


def courier_case() -> SpeedCase:
    def run(seconds: float) -> float:
        from envs.dispatch.parallel_env import CourierDispatchEnv

        env = CourierDispatchEnv()
        rng = np.random.default_rng(0)

        def day(k: int) -> int:
            obs, _ = env.reset(seed=k)
            steps = 0
            while env.agents:
                acts = {a: int(rng.choice(np.flatnonzero(o["action_mask"]))) for a, o in obs.items()}
                obs = env.step(acts)[0]
                steps += 1
            return steps

        return timed(seconds, day)

    return SpeedCase("courier_dispatch_v0 (default, random legal actions)", "epochs/s", run)


def router_case(n_orders: int = 20, n_vehicles: int = 10) -> SpeedCase:
    def run(seconds: float) -> float:
        from envs.dispatch.config import DispatchConfig
        from envs.dispatch.generator import generate_day
        from envs.dispatch.routing.insertion import insertion_route
        from envs.dispatch.simulator import DispatchSimulator

        sim = DispatchSimulator(DispatchConfig())
        problems = []
        for k in range(16):
            sim.reset(generate_day(sim.config, np.random.default_rng(k)))
            sim.t = 240.0
            orders = np.arange(min(n_orders, len(sim.day)))
            problems.append(sim.problem(orders, np.arange(n_vehicles)))

        def one(k: int) -> int:
            insertion_route(problems[k % len(problems)])
            return 1

        return timed(seconds, one)

    return SpeedCase(f"insertion router ({n_orders} orders, {n_vehicles} vehicles)", "problems/s", run)


def speed_cases() -> list[SpeedCase]:
    return [env_case(HEADLINE, greedy=False), env_case("SameDayDelivery-v0 (default day, greedy)", greedy=True),
            courier_case(), router_case()]


def speed_notes(rates: dict[str, float], reference: float) -> list[str]:
    days = rates[HEADLINE]
    verdict = "met" if days >= GOAL_DAYS else "NOT met"
    return [f"One default day takes {1000 / days:.1f} ms with random actions ({days:.1f} days/s); "
            f"goal <= 50 ms (>= {GOAL_DAYS:g} days/s): {verdict}."]
