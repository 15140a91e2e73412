"""The engine on the real default models: SmolLM2-135M-Instruct and the MiniLM rubric."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from decoding.checks import check_stream

from stars_engine.engine import run
from stars_engine.events import AttemptScored, RunFinished, SegmentAccepted, event_from_dict
from stars_engine.params import Params
from stars_engine.policy.base import Sampling

pytestmark = pytest.mark.real
MESSAGES = [{"role": "user", "content": "Give me one tip for sleeping well."}]
ESSAY = [{"role": "user", "content": "Write a long, detailed essay on the history of sleep research."}]


def stars_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stars_tui", *args], capture_output=True, text=True,
                          timeout=300, **kw)


def test_stars_run_json_is_a_well_formed_stream_of_model_text():
    params = Params(seed=11, segment_tokens=4, max_new_tokens=12, max_attempts=3, candidates_per_round=2)
    proc = stars_cli("run", MESSAGES[0]["content"], "--json", "--no-save", "--seed", "11",
                     "--segment-tokens", "4", "--max-new-tokens", "12", "--max-attempts", "3",
                     "--candidates-per-round", "2")
    assert proc.returncode == 0, proc.stderr
    events = [event_from_dict(json.loads(line)) for line in proc.stdout.splitlines()]
    check_stream(events, params)
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.text.strip() and any(c.isalpha() for c in finished.text)
    assert finished.stats.policy_forward_passes > 0


@pytest.mark.parametrize("strategy", ["stars", "vanilla", "best-of-n", "cards", "specrej"])
def test_every_strategy_on_the_real_models(real_policy, real_reward, strategy):
    params = Params(strategy=strategy, seed=5, segment_tokens=4, max_new_tokens=10, max_attempts=4,
                    candidates_per_round=2, best_of_n=3, threshold=0.5, min_segment_tokens=2,
                    max_segment_tokens=6, entropy_threshold=2.5, initial_n=4, decision_tokens=3)
    events = list(run(real_policy, real_reward, MESSAGES, params))
    check_stream(events, params)
    # the policy's decoded reply is the events' reply: nothing is lost between segments
    assert real_policy.tokenizer.decode(real_policy.reply_ids, skip_special_tokens=True) == events[-1].text


def _full_logits(policy, messages) -> torch.Tensor:
    """Next-token logits from encoding prompt + reply from scratch (no cache)."""
    ids = policy.encode_chat(messages) + policy.reply_ids
    with torch.inference_mode():
        return policy.model(input_ids=torch.tensor([ids])).logits[0, -1].float()


def _cached_logits(policy) -> torch.Tensor:
    with torch.inference_mode():
        policy._set_rows(1)
        logits = policy._forward(torch.tensor([[policy.pending]]))[0].float()
        policy.cache.crop(-1)
    return logits


def test_kv_cache_reuse_matches_a_full_reencode(real_policy_fp32, real_reward):
    """After rejections, a batched round and an exhausted segment, the cache equals a fresh encode.

    In fp32: bf16 rounds a one-token step and a whole re-encode differently (logits
    up to 0.5 apart here), which would hide a bookkeeping error of that size.
    """
    real_policy = real_policy_fp32
    params = Params(seed=3, segment_tokens=5, max_new_tokens=15, max_attempts=3, candidates_per_round=2,
                    threshold=9.0, threshold_mode="fixed")  # nothing passes: every segment is exhausted
    events = list(run(real_policy, real_reward, ESSAY, params))
    assert any(isinstance(e, SegmentAccepted) and e.exhausted for e in events)
    assert len(real_policy.reply_ids) == events[-1].stats.tokens_accepted
    # a reply cut short by EOS would leave no next token to compare: this prompt and seed run to the limit
    assert events[-1].stop_reason == "max_tokens"
    assert torch.allclose(_cached_logits(real_policy), _full_logits(real_policy, ESSAY), atol=1e-3)


def test_prefix_is_encoded_once(real_policy):
    """Forward passes per round equal the tokens sampled, whatever the prefix length."""
    real_policy.start(MESSAGES, seed=1)
    before = real_policy.forward_passes
    for _ in range(3):
        candidates = real_policy.sample(3, 4, Sampling())
        real_policy.commit(candidates[0])
    assert real_policy.forward_passes - before <= 12


def test_rubric_prefers_a_kind_reply_to_a_rude_one(real_reward):
    kind, rude = real_reward.score(
        MESSAGES[0]["content"],
        ["Try to keep a regular bedtime and avoid screens for an hour before sleep.",
         "Shut up, that is a stupid question and I hate you."],
    )
    assert kind > rude + 0.3


def test_a_bad_rubric_file_is_a_one_line_error(tmp_path):
    rubric = tmp_path / "r.json"
    rubric.write_text('{"prefer": ["x"], "avoid": 5}')
    proc = stars_cli("run", "hi", "--no-save", "--rubric", str(rubric))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "'avoid' must be a non-empty list" in proc.stderr


def test_attempt_events_carry_real_scores(real_policy, real_reward):
    params = Params(seed=9, segment_tokens=4, max_new_tokens=8, max_attempts=2, candidates_per_round=2)
    attempts = [e for e in run(real_policy, real_reward, MESSAGES, params) if isinstance(e, AttemptScored)]
    assert len({round(a.reward, 6) for a in attempts}) > 1  # scores depend on the text
    assert all(-2.0 < a.reward < 2.0 for a in attempts)


def test_ctrl_c_ends_stars_run_as_cancelled_and_saved(tmp_path):
    """SIGINT mid-run: the engine stops, the stream ends with RunFinished(cancelled), the run is saved."""
    import signal

    from stars_engine.store import open_store

    db = tmp_path / "s.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stars_tui", "run", "Tell me about rivers.", "--json", "--db", str(db),
         "--seed", "1", "--max-new-tokens", "400", "--segment-tokens", "4", "--candidates-per-round", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if '"AttemptScored"' in line:
            proc.send_signal(signal.SIGINT)
            break
    rest, err = proc.communicate(timeout=120)
    lines += rest.splitlines()
    assert proc.returncode == 130, err  # cancelled: scripts can tell it from a finished run
    last = event_from_dict(json.loads(lines[-1]))
    assert isinstance(last, RunFinished) and last.stop_reason == "cancelled"
    assert "saved run" in err
    run_id = err.split("saved run ", 1)[1].split()[0]
    events = open_store(db).run_events(run_id)
    assert isinstance(events[-1], RunFinished) and events[-1].stop_reason == "cancelled"
