"""The model picker (F10): list, switch off the UI thread, keep the old models on a failed load."""

from __future__ import annotations

import threading

import pytest
from fakes import ScriptedPolicy, ScriptedReward
from hub_cache import config_only_cache, save_tiny_lm, snapshot, write_config
from textual.widgets import OptionList

from stars_engine import backends
from stars_engine.backends.spec import ModelSpec
from stars_engine.store import open_store
from stars_tui.app import StarsApp
from stars_tui.screens.model_picker import ModelPicker

from .helpers import FAST, SIZE, FrozenClock, GatedPolicy, chat, screen_text, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    """A hub cache holding one real (tiny, random) causal LM."""
    cache = tmp_path_factory.mktemp("hub")
    folder = save_tiny_lm(snapshot(cache, "acme/tiny-llama"))
    return cache, folder


def picker_app(db=None, policy=None, load_spec=backends.load_pair, clock=None) -> StarsApp:
    """The workbench started on scripted models that stand for the bundled ones, able to switch for real
    (in-process: the ``local`` backend)."""
    policy = policy or ScriptedPolicy()
    reward = ScriptedReward()
    extra = {"clock": clock} if clock is not None else {}
    return StarsApp(lambda: policy, lambda: reward, db_path=db, params=FAST.with_changes(max_new_tokens=8),
                    spec=ModelSpec(backend="local", weights="dense"), load_spec=load_spec, **extra)


async def open_picker(pilot) -> ModelPicker:
    await wait_until(pilot, lambda: pilot.app.policy is not None, "models loaded")
    await pilot.press("f10")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelPicker), "the picker open")
    picker = pilot.app.screen
    assert isinstance(picker, ModelPicker)
    await wait_until(pilot, lambda: len(picker.choices["chat"]) > 1, "the catalog read")
    return picker


async def pick(pilot, picker: ModelPicker, kind: str, label: str) -> None:
    options = picker.query_one(f"#{kind}", OptionList)
    options.focus()
    options.highlighted = [c.label for c in picker.choices[kind]].index(label)
    await pilot.press("enter")


class Gate:
    """A loader that waits for ``gate`` before it loads: the test looks at the app while a load is under way."""

    def __init__(self) -> None:
        self.started, self.gate = threading.Event(), threading.Event()

    def __call__(self, spec):
        self.started.set()
        self.gate.wait(30)
        return backends.load_pair(spec)


@pytest.mark.real
async def test_switching_to_a_cached_model_loads_it_in_the_background_and_the_next_run_records_it(
        db, tiny_cache, monkeypatch):
    cache, folder = tiny_cache
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    loader = Gate()
    app = picker_app(db, load_spec=loader)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "Before")
        picker = await open_picker(pilot)
        assert [c.label for c in picker.choices["chat"]][1:] == ["acme/tiny-llama"]
        assert "● SmolLM2-135M-Instruct" in screen_text(app)
        await pick(pilot, picker, "chat", "acme/tiny-llama")
        await wait_until(pilot, loader.started.is_set, "the load to start")
        assert app.model_state == "loading models…" and app.policy is None
        assert "loading models…" in screen_text(app)
        prompt = app.chat_screen.query_one("#prompt")
        prompt.focus()
        await pilot.press("h", "i")  # the app answers keys while the model loads
        assert prompt.text == "hi"
        prompt.clear()
        loader.gate.set()
        await wait_until(pilot, lambda: app.model_state == "ready", "the picked model loaded", limit=120)
        assert app.spec.model == str(folder), app.model_status
        assert app.policy.model_id == str(folder)
        await chat(pilot, "After")
    with open_store(db) as store:
        [session] = store.list_sessions()
        runs = store.runs_of(session.id)
    assert [r.policy_id for r in runs] == ["scripted-policy", str(folder)]
    assert runs[1].reward_id.startswith("embedding-rubric")  # the bundled reward, loaded with it


@pytest.mark.parametrize(("config", "reason"), [
    ({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}, "cannot load chat model from"),
    ({"architectures": ["OwnForCausalLM"], "model_type": "own-arch", "auto_map": {"AutoConfig": "own.OwnConfig"}},
     "needs custom code, which stars does not run"),
])
async def test_a_failed_switch_is_one_line_and_the_previous_models_stay(db, tmp_path, monkeypatch, config, reason):
    write_config(snapshot(tmp_path, "acme/broken"), config)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    app = picker_app(db)
    async with app.run_test(size=SIZE) as pilot:
        spec = app.spec
        picker = await open_picker(pilot)
        policy, reward = app.policy, app.reward
        await pick(pilot, picker, "chat", "acme/broken")
        await wait_until(pilot, lambda: app.model_status.startswith("model not switched"), "the load to fail")
        assert app.model_state == "ready" and app.policy is policy and app.reward is reward and app.spec == spec
        assert reason in app.model_status and "\n" not in app.model_status
        assert [n.message for n in app._notifications if reason in n.message] == [app.model_status.split(": ", 1)[1]]
        await chat(pilot, "Still here")
    with open_store(db) as store:
        [session] = store.list_sessions()
        assert [r.policy_id for r in store.runs_of(session.id)] == ["scripted-policy"]


async def test_the_picker_is_refused_during_a_reply_and_esc_changes_nothing(db, tmp_path, monkeypatch):
    config_only_cache(tmp_path)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    policy = GatedPolicy(pause_on_call=1)
    app = picker_app(db, policy=policy)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.policy is not None, "models loaded")
        app.chat_screen.query_one("#prompt").focus()
        await pilot.press("h", "i", "enter")
        await wait_until(pilot, policy.reached.is_set, "the reply under way")
        await pilot.press("f10")
        await pilot.pause()
        assert not isinstance(app.screen, ModelPicker)
        assert any("Stop the reply first (Esc)" in n.message for n in app._notifications)
        policy.gate.set()
        await wait_until(pilot, lambda: not app.chat_screen.running, "the reply done")
        spec = app.spec
        await open_picker(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ModelPicker) and app.spec == spec and app.policy is policy


async def test_models_handed_in_directly_have_nothing_to_switch_to():
    app = StarsApp(lambda: ScriptedPolicy(), lambda: ScriptedReward())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.policy is not None, "models loaded")
        await pilot.press("f10")
        await pilot.pause()
        assert not isinstance(app.screen, ModelPicker)
        assert any("nothing to switch to" in n.message for n in app._notifications)


def _snapshot_app(tmp_path, monkeypatch) -> StarsApp:
    config_only_cache(tmp_path)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    return picker_app(clock=FrozenClock(), load_spec=lambda spec: pytest.fail("nothing loads in a picture"))


async def _picker_shown(pilot) -> None:
    await open_picker(pilot)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_picker_snapshot(snap_compare, tmp_path, monkeypatch, size):
    """Both lists, the current models marked, a name written like markup shown as it is."""
    app = _snapshot_app(tmp_path, monkeypatch)
    assert snap_compare(app, terminal_size=size, run_before=_picker_shown)
