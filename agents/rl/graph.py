"""The deterministic policy of a trained SB3 model as one torch module, for export.

Input ``obs``: float32 ``(batch, d)`` raw model rows (``SB3Policy.interface.model_obs``).
Inside, in order, mirroring :class:`agents.rl.adapter.SB3Policy`:

* the run's observation normalisation ``clip((x - mean) / sqrt(var + eps), -clip, clip)``,
  computed in float64 and cast to float32 (as VecNormalize does);
* the policy network's deterministic action: PPO / A2C / MaskablePPO discrete: the argmax
  of the action probabilities (softmax of the logits, as SB3's ``mode()``; MaskablePPO's
  action mask, a function of the observation, is computed and applied inside the graph);
  MultiDiscrete: the same per dimension; MultiBinary: the Bernoulli mode
  ``round(sigmoid(logits))``; Box: the Gaussian mean clipped to the action
  bounds (tanh-squashed with gSDE ``squash_output``); DQN: the argmax of Q; SAC: the tanh of
  the Gaussian mean unscaled to the bounds; TD3: the actor's output unscaled;
* the task's extra outputs (``interface.export_outputs``, e.g. the order of an order-up-to
  level), computed from the raw rows and the action.

Outputs: ``action`` (int64 for Discrete / MultiDiscrete / MultiBinary, float32 for Box) and the extra
outputs. RecurrentPPO is not exportable (its LSTM state would be an input and an output).
"""

from __future__ import annotations

import numpy as np

from envs.core.config import ConfigError

HUGE_NEG = -1e8  # sb3_contrib's MaskableCategorical logit for masked actions
EXPORTABLE = ("ppo", "a2c", "maskable_ppo", "dqn", "sac", "td3", "dcl")


def build_graph(policy, algo_name: str, interface, normalizer):
    """The module (see the module docstring) of SB3 ``policy`` (``model.policy``)."""
    import torch
    from gymnasium import spaces
    from torch import nn

    if algo_name not in EXPORTABLE:
        raise ConfigError(f"agent={algo_name}: export is not supported (the LSTM state would be an input and an "
                          f"output); supported agents: {', '.join(EXPORTABLE)}")
    if not isinstance(policy.observation_space, spaces.Box):
        raise ConfigError(f"agent={algo_name}: only Box observation spaces can be exported")
    space = policy.action_space
    kind = ("discrete" if isinstance(space, spaces.Discrete) else
            "multi" if isinstance(space, spaces.MultiDiscrete) else
            "binary" if isinstance(space, spaces.MultiBinary) else "box")
    head = _head(policy, algo_name, kind, nn, torch)

    class PolicyGraph(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = head
            self.normalize = normalizer is not None
            if self.normalize:
                self.register_buffer("mean", torch.tensor(np.asarray(normalizer.mean, np.float64)))
                # np.sqrt is correctly rounded, so precomputing it changes nothing
                self.register_buffer("std", torch.tensor(np.sqrt(np.asarray(normalizer.var, np.float64)
                                                                 + normalizer.epsilon)))
                self.clip_obs = float(normalizer.clip)
            self.masked = bool(getattr(interface, "masked", False))
            self.dqn = algo_name == "dqn"
            if kind == "box":
                self.register_buffer("low", torch.tensor(space.low, dtype=torch.float32))
                self.register_buffer("high", torch.tensor(space.high, dtype=torch.float32))
                self.squashed = bool(getattr(policy, "squash_output", False)) or algo_name in ("sac", "td3")
            if kind == "multi":
                self.splits = [int(n) for n in space.nvec]

        def forward(self, obs):
            x = obs.to(torch.float64)
            if self.normalize:
                z = torch.clamp((x - self.mean) / self.std, -self.clip_obs, self.clip_obs).to(torch.float32)
            else:
                z = obs.to(torch.float32)
            out = self.head(z)
            if kind == "discrete":
                if self.masked:
                    out = out.masked_fill(~interface.graph_masks(torch, x), HUGE_NEG)
                action = torch.argmax(out if self.dqn else _probs(torch, out), dim=1)
                value = action.to(torch.float64)
            elif kind == "binary":  # Bernoulli mode, as SB3: round(sigmoid(logits))
                action = torch.round(torch.sigmoid(out)).to(torch.int64)
                value = action.to(torch.float64)
            elif kind == "multi":
                parts = torch.split(out, self.splits, dim=1)
                action = torch.stack([torch.argmax(_probs(torch, p), dim=1) for p in parts], dim=1)
                value = action.to(torch.float64)
            else:
                if self.squashed:  # BasePolicy.unscale_action, in float32 like SB3
                    action = self.low + (0.5 * (out + 1.0) * (self.high - self.low))
                else:  # np.clip(actions, low, high)
                    action = torch.minimum(torch.maximum(out, self.low), self.high)
                value = action.to(torch.float64)
            extra = interface.export_outputs(torch, x, value)
            return (action, *extra.values())

    graph = PolicyGraph()
    graph.eval()
    return graph


def _probs(torch, logits):
    """Categorical.mode() compares probabilities: softmax of the normalised logits."""
    return torch.softmax(logits - torch.logsumexp(logits, dim=1, keepdim=True), dim=1)


def _head(policy, algo_name: str, kind: str, nn, torch):
    """The network part that maps normalised rows to logits, Q-values or the action mean."""
    if algo_name == "dqn":
        class QNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.q_net = policy.q_net

            def forward(self, z):
                return self.q_net(z)

        return QNet()
    if algo_name == "sac":
        class SquashedActor(nn.Module):
            def __init__(self):
                super().__init__()
                actor = policy.actor
                self.features_extractor = actor.features_extractor
                self.latent_pi, self.mu = actor.latent_pi, actor.mu

            def forward(self, z):
                return torch.tanh(self.mu(self.latent_pi(self.features_extractor(z))))

        return SquashedActor()
    if algo_name == "td3":
        class DeterministicActor(nn.Module):  # mu already ends in tanh
            def __init__(self):
                super().__init__()
                self.actor = policy.actor

            def forward(self, z):
                return self.actor(z)

        return DeterministicActor()

    class ActorCritic(nn.Module):  # PPO, A2C, MaskablePPO, DCL: logits or the Gaussian mean
        def __init__(self):
            super().__init__()
            self.features_extractor = policy.pi_features_extractor
            self.mlp_extractor = policy.mlp_extractor
            self.action_net = policy.action_net
            self.squash = bool(policy.squash_output) and kind == "box"

        def forward(self, z):
            out = self.action_net(self.mlp_extractor.forward_actor(self.features_extractor(z)))
            return torch.tanh(out) if self.squash else out

    return ActorCritic()
