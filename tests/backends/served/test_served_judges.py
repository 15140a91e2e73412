"""Held-out judges on real vLLM servers: the chat judge on the served chat model gives the in-process
judge's log-odds, and the GPU recipe of benchmarks/README.md runs end to end on small models.

The recipe's models are stand-ins in the same formats: the chat model is the session's server (the
bundled SmolLM2, a chat Llama, already up for the other served tests, so no extra start), and the
reward model a randomly initialised one-logit ``LlamaForSequenceClassification`` in a Hugging Face
hub cache, served by its hub id as ``vllm serve Skywork/...`` would be, so the guide's and the
judge's tokenizers are found the way a GPU user's are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hub_cache import link_config, snapshot

from stars_engine.backends.served.connect import served_policies
from stars_engine.backends.served.logprobs import next_token_logprobs, prompt_logprob
from stars_engine.bench.heldout import build_judges
from stars_engine.bench.judge import LETTERS, compare, judge_messages
from stars_engine.bench.judge_served import ServedChatJudge

from .reward_models import build_tiny_rm
from .servers import running_server

pytestmark = [pytest.mark.served, pytest.mark.real]

PAIRS = [
    ("How do I boil an egg?", "Put it in boiling water for nine minutes, then cool it.", "Eggs? Go away."),
    ("Why is the sky blue?", "Sunlight scatters off air molecules, and blue light scatters most.", ""),
]
RM_ID = "acme/tiny-rm"
POOLING = ("--runner", "pooling", "--no-enable-prefix-caching", "--enforce-eager", "--max-model-len", "1024")


def test_the_served_chat_judge_gives_the_in_process_judges_log_odds_in_both_orders(vllm_url, real_policy_fp32):
    served = build_judges(["chat"], served_policies([vllm_url])[0], None)["chat"]
    local = build_judges(["chat"], real_policy_fp32, None)["chat"]
    assert isinstance(served, ServedChatJudge) and "(vllm:smollm2)" in served.judge_id
    for prompt, a, b in PAIRS:
        theirs, mine = compare(served, prompt, a, b), compare(local, prompt, a, b)
        assert theirs.as_first != 0 and theirs.as_second != 0 and theirs.as_first != theirs.as_second
        assert (theirs.as_first, theirs.as_second) == pytest.approx((mine.as_first, mine.as_second), abs=2e-3)


def test_a_letter_read_outside_the_top_list_is_the_same_number(vllm_url):
    policy = served_policies([vllm_url])[0]
    ids = policy.codec.encode_chat(judge_messages(*PAIRS[0]))
    a = policy.codec.tokenizer.encode(LETTERS[0], add_special_tokens=False)[0]
    rare = policy.codec.tokenizer.encode(" photosynthesis", add_special_tokens=False)[0]
    found = next_token_logprobs(policy.client, policy.served_model, ids, [a, rare])
    assert prompt_logprob(policy.client, policy.served_model, ids, a) == pytest.approx(found[a], abs=1e-3)
    assert found[rare] < found[a] - 5  # far below the top 20: it came from the exact second request


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A hub cache holding the tiny reward model as ``acme/tiny-rm`` (``config.json`` a link into blobs)."""
    cache = tmp_path_factory.mktemp("hub")
    folder = snapshot(cache, RM_ID)
    build_tiny_rm(folder)
    link_config(folder)
    return cache


@pytest.fixture(scope="module")
def rm_server(hub):
    with pytest.MonkeyPatch.context() as patch:  # the server reads the cache; nothing is downloaded
        patch.setenv("HF_HUB_CACHE", str(hub))
        patch.setenv("HF_HUB_OFFLINE", "1")
        with running_server(RM_ID, "tiny-rm", POOLING) as server:
            yield server


def test_the_gpu_recipe_runs_end_to_end_guide_and_judges_served(vllm_url, rm_server, hub, tmp_path):
    out = tmp_path / "bench"
    env = dict(os.environ, HF_HUB_CACHE=str(hub), HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-m", "stars_tui", "bench", "--server", vllm_url, "--reward-server", rm_server.url,
         "--reward", RM_ID, "--judge", f"rm:{rm_server.url},chat", "--limit", "2", "--seeds", "0",
         "--max-new-tokens", "8", "--strategies", "vanilla,bon-2", "--out", str(out)],
        capture_output=True, text=True, timeout=900, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    cells = [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]
    assert len(cells) == 4 and all(c["error"] is None and c["guide_reward"] is not None for c in cells)
    verdicts = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines()]
    by_judge = {v["judge"]: v["judge_id"] for v in verdicts}
    assert by_judge == {
        f"rm:{rm_server.url}": f"reward judge ({RM_ID} (vllm:tiny-rm))",
        "chat": "pairwise chat judge (vllm:smollm2), mean log-odds of both orders, tie below 0.1",
    }
    assert len(verdicts) == 4  # bon-2 against vanilla on 2 prompts, by each judge
    text = {(c["prompt_id"], c["strategy"]): c["text"] for c in cells}
    for v in verdicts:
        if text[(v["prompt_id"], "bon-2")].strip() != text[(v["prompt_id"], "vanilla")].strip():
            assert v["margin"] == pytest.approx((v["as_first"] + v["as_second"]) / 2)
            assert v["as_first"] != 0 and v["as_second"] != 0
    summary = json.loads((out / "summary.json").read_text())
    bon = next(s for s in summary["strategies"] if s["strategy"] == "bon-2")
    assert set(bon["judge"]) == {"chat", f"rm:{rm_server.url}"}
