"""A replay-only app: one recorded run on the replay screen, no model loaded.

For ``stars replay RUN`` (and the committed demo session), which must work on
a machine with no model installed: give it the run's events from the store.
"""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from stars_engine.events import Event

from .literal import LiteralNotifications
from .screens.replay import ReplayScreen


class ReplayApp(LiteralNotifications, App):
    """Shows one run's events through the workbench's replay screen; Esc or Ctrl+Q quits."""

    CSS_PATH = "stars.tcss"
    TITLE = "stars replay"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, events: list[Event], title: str = "replay", autoplay: bool = True) -> None:
        super().__init__()
        self.events = events
        self.run_title = title
        self.autoplay = autoplay

    def get_default_screen(self) -> Screen:
        return ReplayScreen(self.events, title=self.run_title, autoplay=self.autoplay)

