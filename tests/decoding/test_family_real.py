"""CARDS, Speculative Rejection and auto k on the real default models; the cache against a full re-encode."""

from __future__ import annotations

import pytest
import torch

from stars_engine.backends.local.entropy import entropy
from stars_engine.engine import run
from stars_engine.events import ACCEPTED, KEPT, PRUNED, AttemptScored
from stars_engine.params import Params
from stars_engine.policy.base import Sampling

from .checks import check_stream

pytestmark = pytest.mark.real
MESSAGES = [{"role": "user", "content": "Give me one tip for sleeping well."}]


def assert_row_is_a_full_encode(policy, row: int, ids: list[int]) -> None:
    """Cache row ``row`` holds, in every layer, the keys and values of encoding ``ids`` from scratch."""
    from transformers import DynamicCache

    fresh = DynamicCache(config=policy.model.config)
    with torch.inference_mode():
        policy.model(input_ids=torch.tensor([ids]), use_cache=True, **{policy.cache_kwarg: fresh})
    for mine, full in zip(policy.cache.layers, fresh.layers, strict=True):
        assert torch.allclose(mine.keys[row], full.keys[0], atol=1e-4)
        assert torch.allclose(mine.values[row], full.values[0], atol=1e-4)


def test_kept_branches_match_a_full_reencode(real_policy_fp32):
    """fork, grow, keep (rows reordered, some dropped), grow: each kept row's KV equals a fresh encode."""
    real_policy = real_policy_fp32  # in fp32: bf16 rounds a step and a whole re-encode differently
    prompt = real_policy.encode_chat(MESSAGES)
    real_policy.start(MESSAGES, seed=2)
    real_policy.fork(5)
    first = real_policy.grow(4, Sampling(temperature=0.7))
    live = [i for i, c in enumerate(first) if not c.eos]
    kept = [live[-1], live[0]] if len(live) > 1 else live
    real_policy.keep(kept)
    second = real_policy.grow(3, Sampling(temperature=0.7))
    assert len(second) == len(kept)
    for row, (before, after) in enumerate(zip(kept, second, strict=True)):
        assert after.token_ids[: len(first[before].token_ids)] == first[before].token_ids
        if after.eos:
            continue
        assert real_policy.cache.layers[0].keys.shape[0] == len(kept)
        assert_row_is_a_full_encode(real_policy, row, prompt + list(after.token_ids[:-1]))
    # committing a live branch makes it the prefix without encoding it again
    passes = real_policy.forward_passes
    winner = next(c for c in second if not c.eos)
    real_policy.commit(winner)
    assert real_policy.forward_passes == passes
    assert real_policy.reply_ids == list(winner.token_ids)
    assert_row_is_a_full_encode(real_policy, 0, prompt + real_policy.reply_ids[:-1])


def test_an_entropy_cut_leaves_the_cache_equal_to_a_full_reencode(real_policy_fp32):
    """Cut segments, rejected and committed: the cache equals a fresh encode of prompt + reply."""
    real_policy = real_policy_fp32  # in fp32: bf16 rounds a step and a whole re-encode differently
    real_policy.start(MESSAGES, seed=4)
    prompt = real_policy.encode_chat(MESSAGES)
    cut_seen = False
    for _ in range(4):
        rejected = real_policy.sample_until_unsure(12, 2, 2.0, Sampling())
        real_policy.discard()
        taken = real_policy.sample_until_unsure(12, 2, 2.0, Sampling())
        cut_seen |= rejected.cut_entropy is not None or taken.cut_entropy is not None
        if taken.cut_entropy is not None:
            # the cut entropy is the model's own at the token after the segment
            ids = prompt + real_policy.reply_ids + list(taken.token_ids)
            with torch.inference_mode():
                logits = real_policy.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
            assert float(entropy(logits)) == pytest.approx(taken.cut_entropy, abs=1e-3)
            assert 2 <= taken.tokens < 12
        real_policy.commit(taken)
        if taken.eos:
            break
    assert cut_seen
    assert_row_is_a_full_encode(real_policy, 0, prompt + real_policy.reply_ids[:-1])


def test_specrej_and_cards_runs_on_the_real_models_show_their_decisions(real_policy, real_reward):
    spec = Params(strategy="specrej", seed=3, initial_n=6, prune_fraction=0.5, decision_tokens=4, max_new_tokens=12)
    events = list(run(real_policy, real_reward, MESSAGES, spec))
    check_stream(events, spec)
    attempts = [e for e in events if isinstance(e, AttemptScored)]
    assert sum(a.verdict == PRUNED for a in attempts) >= 3  # 6 -> 3 at the first decision
    assert real_policy.tokenizer.decode(real_policy.reply_ids, skip_special_tokens=True) == events[-1].text
    cards = Params(strategy="cards", seed=3, entropy_threshold=2.0, min_segment_tokens=2, max_segment_tokens=10,
                   max_new_tokens=16, max_attempts=3, acceptance="soft", threshold=0.4)
    events = list(run(real_policy, real_reward, MESSAGES, cards))
    check_stream(events, cards)
    assert any(e.cut_entropy is not None for e in events if isinstance(e, AttemptScored))
    assert real_policy.tokenizer.decode(real_policy.reply_ids, skip_special_tokens=True) == events[-1].text


@pytest.mark.parametrize("params", [
    Params(strategy="smc", seed=3, particles=4, segment_tokens=4, max_new_tokens=12, smc_temperature=0.02,
           ess_threshold=1.0),
    Params(strategy="beam", seed=3, beam_width=2, beam_expansions=2, segment_tokens=4, max_new_tokens=12),
], ids=["smc", "beam"])
def test_smc_and_beam_run_on_the_real_models(real_policy, real_reward, params):
    """Each round reports every branch; the reply is the winner's text and the policy's reply ids decode to it."""
    events = list(run(real_policy, real_reward, MESSAGES, params))
    check_stream(events, params)
    attempts = [e for e in events if isinstance(e, AttemptScored)]
    assert {a.verdict for a in attempts} >= {KEPT, ACCEPTED}
    assert len({a.round for a in attempts}) >= 2
    winner = next(a for a in attempts if a.verdict == ACCEPTED)
    assert winner.text == events[-1].text
    assert real_policy.tokenizer.decode(real_policy.reply_ids, skip_special_tokens=True) == events[-1].text


def test_keep_with_a_repeated_row_duplicates_a_branch_that_then_grows_apart(real_policy_fp32):
    """keep([0, 0, 1]): two copies of branch 0 (its cache row twice, no re-encode) sample apart, and every
    row's keys and values equal a fresh encode of its own ids."""
    real_policy = real_policy_fp32
    prompt = real_policy.encode_chat(MESSAGES)
    real_policy.start(MESSAGES, seed=5)
    real_policy.fork(2)
    first = real_policy.grow(3, Sampling(temperature=1.0))
    assert not any(c.eos for c in first)
    passes = real_policy.forward_passes
    real_policy.keep([0, 0, 1])
    assert real_policy.forward_passes == passes
    second = real_policy.grow(6, Sampling(temperature=1.0))
    assert [c.token_ids[:3] for c in second] == [first[0].token_ids, first[0].token_ids, first[1].token_ids]
    assert second[0].token_ids != second[1].token_ids
    for row, branch in enumerate(second):
        if not branch.eos:
            assert_row_is_a_full_encode(real_policy, row, prompt + list(branch.token_ids[:-1]))
