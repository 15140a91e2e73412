"""The inspector on CARDS and Speculative Rejection runs (scripted engine, real event stream)."""

from __future__ import annotations

import pytest
from fakes import ScriptedPolicy
from textual.widgets import DataTable, Label

from stars_engine.params import Params

from .helpers import SIZE, chat, keys, make_app, send, wait_until

pytestmark = pytest.mark.anyio


def column(table: DataTable, index: int) -> list[str]:
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


async def test_specrej_shows_pruned_replies_and_the_live_set_shrinking(db):
    params = Params(strategy="specrej", seed=3, initial_n=8, prune_fraction=0.5, decision_tokens=3,
                    max_new_tokens=12)
    app = make_app(db_path=db, params=params)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "be kind")
        screen = app.chat_screen
        title = str(screen.query_one("#attempts-title", Label).render())
        assert "live per round 8 → 4 → 2 → 1" in title
        verdicts = column(screen.query_one("#attempts", DataTable), 2)
        assert verdicts == (["pruned r1"] * 4 + ["kept r1"] * 4 + ["pruned r2"] * 2 + ["kept r2"] * 2
                            + ["pruned r3", "kept r3", "accepted r4"])
        branches = screen.query_one("#branches")
        shown = str(branches.render())
        assert branches.display and not screen.query_one("#chart").display
        assert "round 4" in shown and "grown per round 8 → 4 → 2 → 1" in shown and "went on 4 → 2 → 1" in shown
        assert " ".join(screen.state.text.split())[-20:] in shown  # the winner, as it was written


async def test_smc_branches_show_while_the_run_grows_and_the_population_per_round(db):
    """The branches view follows the rounds as they come (a slow scripted model), with the ESS."""
    params = Params(strategy="smc", seed=3, particles=4, segment_tokens=3, max_new_tokens=9, ess_threshold=1.0,
                    smc_temperature=0.05)
    app = make_app(ScriptedPolicy(delay=0.05), db_path=db, params=params)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.chat_screen
        await send(pilot, "be kind")
        branches = screen.query_one("#branches")
        await wait_until(pilot, lambda: "round 2" in str(branches.render()), "a second round to show live")
        assert not screen.state.done
        await wait_until(pilot, lambda: screen.state.done, "the run to end")
        await pilot.pause()
        shown = str(branches.render())
        assert "round 3" in shown and "ESS" in shown and "grown per round 4 → 4 → 4" in shown


async def test_cards_shows_where_each_segment_was_cut_and_the_entropy_that_cut_it(db):
    params = Params(strategy="cards", seed=3, entropy_threshold=3.0, min_segment_tokens=2, max_segment_tokens=9,
                    max_new_tokens=20, max_attempts=2, threshold=0.0, threshold_mode="fixed")
    app = make_app(db_path=db, params=params)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "be kind")
        screen = app.chat_screen
        first_cut = next(s.index for s in screen.state.segments if any(a.cut_entropy for a in s.attempts))
        screen.query_one("#segments", DataTable).move_cursor(row=first_cut)
        await pilot.pause()
        table = screen.query_one("#attempts", DataTable)
        shown = screen.state.segments[first_cut].attempts
        assert column(table, 3) == [
            f"{a.tokens} H{a.cut_entropy:.2f}" if a.cut_entropy is not None else str(a.tokens) for a in shown
        ]
        assert any(" H" in cell for cell in column(table, 3))
        assert "live per round" not in str(screen.query_one("#attempts-title", Label).render())
        assert not screen.query_one("#branches").display and screen.query_one("#chart").display


async def test_the_parameter_bar_takes_auto_and_the_familys_knobs():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.chat_screen

        async def enter(name: str, text: str) -> str:
            field = screen.query_one(f"#param-{name}")
            field.focus()
            field.value = ""
            await pilot.press(*keys(text), "enter")
            return str(screen.query_one("#param-message", Label).render())

        assert "per round = auto" in await enter("candidates_per_round", "auto")  # the label shown
        assert app.current_params.candidates_per_round == "auto"
        assert "or 'auto'" in await enter("candidates_per_round", "many")
        assert app.current_params.candidates_per_round == "auto"
        assert screen.query_one("#param-entropy_threshold").region.area == 0  # not a knob of stars

        async def choose(strategy: str) -> None:
            screen.query_one("#param-strategy").value = strategy
            await wait_until(pilot, lambda: app.current_params.strategy == strategy, f"the strategy {strategy}")

        await choose("cards")
        assert "strategy = cards (from the next reply)" in str(screen.query_one("#param-message", Label).render())
        await enter("entropy_threshold", "2.5")
        assert screen.query_one("#param-entropy_threshold").region.area > 0
        assert "refused: max seg" in await enter("max_segment_tokens", "2")
        assert app.current_params.max_segment_tokens == 64
        await choose("specrej")
        await enter("prune_fraction", "0.75")
        assert screen.query_one("#param-entropy_threshold").region.area == 0
        assert (app.current_params.entropy_threshold, app.current_params.prune_fraction) == (2.5, 0.75)
