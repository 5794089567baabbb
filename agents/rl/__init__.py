"""Reinforcement learning with stable-baselines3: algorithms, the policy adapter, callbacks,
checkpoints and exported (ONNX / TorchScript) policies."""
