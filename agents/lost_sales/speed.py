"""Speed cases of the lost-sales task (``python -m experiments.speed --task lost_sales``).

* env steps per second of ``env.unwrapped.step`` in a tight loop (no wrappers, no agent;
  pre-drawn random discrete actions; LostSales-v0 never terminates) for the default config,
  ``lead_time=4`` and ``backorders=True``;
* period-steps per second of ``BatchSimulator`` at a batch of 1024 replications driven by a
  base-stock (order-up-to) rule, the engine of evaluation and tuning;
* PPO training throughput on the batched training VecEnv (``vec_env=batched``:
  ``LostSalesBatch`` behind ``BatchVecEnv``, VecNormalize, one torch thread; timesteps per
  second of ``model.learn``, rollouts and gradient updates included) at several widths, next
  to the generic case "PPO training (4 copies)" (SB3's ``DummyVecEnv`` of 4 Gymnasium envs, the
  path before ``vec_env`` existed). "same PPO updates": the rollout (2048 steps), minibatch
  (256) and epochs (10) of ``configs/agent/ppo.yaml``, so the gain is the VecEnv's alone; the
  last case has ``configs/experiment/lost_sales_ppo_batched.yaml``'s larger, fewer updates
  (rollouts of 4,096 steps, minibatches of 1,024, 5 epochs).

Goals: a raw LostSales-v0 rate of at least twice CartPole-v1's (measured in the same process);
PPO training at least 5x the DummyVecEnv rate (issue 12, item 4).
"""

from __future__ import annotations

import time

import numpy as np

from agents.speed_case import SpeedCase, timed

GOAL_RATIO = 2.0
HEADLINE = "LostSales-v0 (default: L=2, lost sales)"
TRAINING_GOAL = 5.0
DUMMY_TRAINING = "PPO training (4 copies)"  # experiments.speed's generic case: DummyVecEnv
# label -> (n_envs, n_steps, batch_size, n_epochs): PPO's updates on the batched VecEnv
PPO_BATCHED = {
    "PPO training, batched (4 copies, same PPO updates)": (4, 512, 256, 10),
    "PPO training, batched (64 copies, same PPO updates)": (64, 32, 256, 10),
    "PPO training, batched (256 copies, same PPO updates)": (256, 8, 256, 10),
    "PPO training, batched (128 copies, lost_sales_ppo_batched updates)": (128, 32, 1024, 5),
}


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
        replications = Replications.from_seeds(config, np.arange(batch), periods)
        done, start = 0, time.perf_counter()
        while True:
            sim = BatchSimulator(config, replications.on_hand, replications.pipeline)
            for t in range(periods):
                position = sim.observation().sum(axis=1)
                sim.step(np.clip(level - position, 0, config.q_max).astype(np.int64), replications.demand[:, t])
            done += batch * periods
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return done / elapsed

    return SpeedCase(f"BatchSimulator (batch {batch}, base-stock rule)", "period-steps/s", run)


def ppo_batched_case(label: str, n_envs: int, n_steps: int, batch_size: int, n_epochs: int) -> SpeedCase:
    def run(seconds: float) -> float:
        import torch
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import VecNormalize

        from agents.lost_sales.task import LostSalesTask
        from agents.rl.vec_env import base_venv

        torch.set_num_threads(1)
        venv = VecNormalize(base_venv(LostSalesTask(), n_envs, 0, shared=False, vec_env="batched"))
        model = PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=batch_size, n_epochs=n_epochs, seed=0,
                    device="cpu", verbose=0)
        chunk = n_steps * n_envs
        model.learn(chunk)  # warm-up: the first rollout builds the buffers

        def rollout_and_update(_: int) -> int:
            model.learn(chunk, reset_num_timesteps=False)
            return chunk

        return timed(seconds, rollout_and_update)

    return SpeedCase(label, "env steps/s", run)


def speed_cases() -> list[SpeedCase]:
    return [env_case(HEADLINE, {}), env_case("LostSales-v0 (L=4)", {"lead_time": 4}),
            env_case("LostSales-v0 (backorders)", {"backorders": True}), batch_case(),
            *(ppo_batched_case(label, *updates) for label, updates in PPO_BATCHED.items())]


def speed_notes(rates: dict[str, float], reference: float) -> list[str]:
    ratio = rates[HEADLINE] / reference
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    notes = [f"LostSales-v0 (default config) runs at {ratio:.2f}x CartPole-v1's raw step rate; "
             f"goal >= {GOAL_RATIO:g}x: {verdict}."]
    if DUMMY_TRAINING in rates:  # absent with --no-training
        for label in PPO_BATCHED:
            speedup = rates[label] / rates[DUMMY_TRAINING]
            notes.append(f"{label}: {speedup:.1f}x the DummyVecEnv's PPO rate; goal >= {TRAINING_GOAL:g}x: "
                         f"{'met' if speedup >= TRAINING_GOAL else 'NOT met'}.")
    return notes
