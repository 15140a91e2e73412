"""Best-of-N: N whole replies sampled as one batch; the highest reward wins.

The whole reply is one "segment" with N attempts, so the recorder, the
inspector and the stats treat it like any other strategy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from ..events import ACCEPTED, REJECTED, Event, RunFinished, SegmentAccepted
from .common import RunContext
from .registry import Knob, Strategy


def best_of_n(ctx: RunContext) -> Iterator[Event]:
    params, tally = ctx.current, ctx.tally
    prompt_tokens = ctx.policy.start(ctx.messages, ctx.seed)
    yield ctx.started(prompt_tokens, None)
    started = time.perf_counter()
    candidates = ctx.policy.sample(params.best_of_n, params.max_new_tokens, ctx.sampling(), ctx.cancel)
    if ctx.cancel.is_set():
        ctx.policy.discard()
        yield RunFinished(text="", stop_reason="cancelled", stats=ctx.stats())
        return
    rewards = ctx.score([c.text for c in candidates])
    share_ms = (time.perf_counter() - started) * 1000 / len(candidates)
    winner = max(range(len(candidates)), key=lambda i: rewards[i])
    for i, (candidate, reward) in enumerate(zip(candidates, rewards)):
        yield ctx.attempt(0, i, candidate, reward, None, ACCEPTED if i == winner else REJECTED, share_ms)
    best = candidates[winner]
    ctx.policy.commit(best)
    tally.tokens_accepted = best.tokens
    tally.segments = 1
    tally.final_reward = rewards[winner]
    yield SegmentAccepted(
        segment=0, text=best.text, reward=rewards[winner], attempts=len(candidates),
        exhausted=False, tokens=best.tokens, threshold=None,
    )
    stop = "eos" if best.eos else "max_tokens"
    yield RunFinished(text=best.text, stop_reason=stop, stats=ctx.stats())


STRATEGY = Strategy("best-of-n", best_of_n, "N whole replies, the best kept", bench="bon-N",
                    knobs=(Knob("best_of_n", "N for the best-of-n strategy.", "best of n", bar=False),),
                    reads=("temperature",))
