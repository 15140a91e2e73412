"""Loading by local path / hub id through the same code a hub model takes, on tiny random models."""

from __future__ import annotations

import pytest
import torch
from hub_cache import tiny_lm as save_tiny_lm_files
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
)

from stars_engine.backends.local.load import load_policy, load_reward
from stars_engine.engine import run
from stars_engine.errors import StarsError
from stars_engine.events import RunFinished
from stars_engine.params import Params
from stars_engine.weights.sources import bundled_minilm


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A randomly initialised 2-layer Llama with the default model's tokenizer, saved like a hub folder."""
    return save_tiny_lm_files(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    """A randomly initialised one-logit BERT classifier with MiniLM's tokenizer."""
    folder = tmp_path_factory.mktemp("tiny-rm")
    tokenizer = AutoTokenizer.from_pretrained(bundled_minilm())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, num_labels=1)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.real  # the tiny model borrows the default model's tokenizer, which converting it reads
def test_a_local_causal_lm_and_classifier_reward_run_end_to_end(tiny_lm, tiny_rm):
    policy = load_policy(str(tiny_lm))
    reward = load_reward(str(tiny_rm))
    scores = reward.score("hello", ["a reply", "another, longer reply", ""])
    assert len(scores) == 3 and len(set(scores)) == 3
    params = Params(seed=1, segment_tokens=3, max_new_tokens=9, max_attempts=2, candidates_per_round=2)
    events = list(run(policy, reward, [{"role": "user", "content": "hello"}], params))
    assert isinstance(events[-1], RunFinished), events[-1]
    assert events[-1].stats.reward_calls >= 3


def test_a_classifier_with_two_outputs_is_refused(tmp_path, tiny_rm):
    model = BertForSequenceClassification.from_pretrained(tiny_rm, num_labels=2, ignore_mismatched_sizes=True)
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_rm).save_pretrained(tmp_path)
    with pytest.raises(StarsError, match="needs exactly 1"):
        load_reward(str(tmp_path))


@pytest.mark.parametrize(
    ("loader", "ref", "message"),
    [
        (load_policy, "./no/such/folder", "chat model path does not exist"),
        (load_policy, "nobody-here/no-such-model", "downloads are off"),
        (load_reward, "./no/such/rm", "reward model path does not exist"),
        (load_reward, "nobody-here/no-such-rm", "downloads are off"),
    ],
)
def test_missing_models_are_clear_errors(loader, ref, message):
    with pytest.raises(StarsError, match=message):
        loader(ref)


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(StarsError, match="no config.json"):
        load_policy(str(tmp_path))
