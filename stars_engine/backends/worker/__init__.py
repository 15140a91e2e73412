"""The worker-process backend: the in-process models behind a pipe (ProcessPolicy, ProcessReward)."""
