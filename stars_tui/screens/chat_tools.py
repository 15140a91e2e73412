"""What the chat screen does beside chatting: the chat list, find, the session's rename and export,
and deleting or editing any turn.

Mixed into ``ChatScreen`` (its bindings are listed there, so the command
palette shows them). Deleting a turn takes its prompt and reply out of the
conversation and marks its runs ``deleted`` (they stay in the database; the
turns after it stay). Editing a turn's prompt marks its runs, and those of
every later turn, ``edited``, and sends the new prompt as that turn: the later
replies answered a conversation that no longer exists. Store writes run in
thread workers; the screen changes only once the store has said yes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work

from stars_engine.errors import StarsError

from ..widgets.chat_list import ChatList
from ..widgets.find_bar import FindBar
from ..widgets.prompt_input import PromptInput
from ..widgets.transcript import Transcript, Turn, UserTurn

if TYPE_CHECKING:
    from textual.screen import Screen

    _Base = Screen
else:
    _Base = object


class ChatTools(_Base):
    """Actions for ``ChatScreen`` (the type checker sees it as one; at run time it is a plain mixin)."""

    # Under 110 columns the shown chat list takes the inspector's place (stars.tcss), so the
    # conversation keeps its width at 80×24.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    if TYPE_CHECKING:  # what ChatScreen has (imported here it would be an import circle)
        running: bool

        def start_run(self, prompt: str | None, seed: int | None = None) -> None: ...

    def _chat_list(self) -> ChatList:
        return self.query_one(ChatList)

    # -- the chat list ----------------------------------------------------

    def action_toggle_chat_list(self) -> None:
        """Show or hide the chat list; the choice holds for the rest of the app's run."""
        if self.app.db_path is None:
            self.notify("No session database is open (pass --db).", severity="warning")
            return
        chats = self._chat_list()
        chats.show(not chats.shown)
        self.set_class(chats.shown, "chat-list-shown")
        if chats.shown:
            chats.open_id = self.app.chat.session_id
            chats.query_one("#chat-search").focus()
        else:
            self.query_one("#prompt").focus()

    def refresh_chat_list(self) -> None:
        """After a run, an open, a rename: the list shows the sessions as they are now."""
        chats = self.query(ChatList)
        if chats:
            chats.first().reload(self.app.chat.session_id)

    def on_screen_resume(self) -> None:
        self.refresh_chat_list()  # back from F2: a session may have been renamed or deleted there

    # -- find -------------------------------------------------------------

    def action_find(self) -> None:
        self.query_one(FindBar).open()

    # -- the session ------------------------------------------------------

    def _session(self) -> str | None:
        session = self.app.chat.session_id
        if session is None or self.app.db_path is None:
            self.notify("Nothing recorded in this chat yet.")
            return None
        return session

    def action_export_session(self) -> None:
        session = self._session()
        if session is not None:
            self.app.action_export("session", session)

    def action_rename_session(self) -> None:
        session = self._session()
        if session is not None:
            self._store_work(lambda store: store.session(session).title, lambda title: self._ask_title(session, title))

    def _ask_title(self, session: str, title: str) -> None:
        from .dialogs import AskDialog

        def done(new: str | None) -> None:
            if new is not None:
                self._store_work(lambda store: store.rename_session(session, new),
                                 lambda _: (self.notify("Session renamed."), self.refresh_chat_list()))

        self.app.push_screen(AskDialog("New title for this session:", title), done)

    @work(thread=True, group="chat-store", exit_on_error=False)
    def _store_work(self, change: Callable[[Any], Any], then: Callable[[Any], Any]) -> None:
        """``change(store)`` on a connection of its own, then ``then(result)`` on the UI thread; a refusal
        is shown and nothing else happens."""
        from stars_engine.store import open_store

        try:
            with open_store(self.app.db_path) as store:
                result = change(store)
        except (StarsError, sqlite3.Error) as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(then, result)

    # -- a turn -----------------------------------------------------------

    def _chosen_turn(self) -> Turn | None:
        """The focused message's turn, else the last one."""
        focused = self.screen.focused
        if isinstance(focused, Turn):
            return focused
        turns = self.query_one(Transcript).turns()
        if not turns:
            self.notify("There is no turn yet.")
            return None
        return turns[-1]

    def action_delete_turn(self) -> None:
        turn = self._chosen_turn()
        if turn is not None:
            self._act(turn, "delete")

    def action_edit_turn(self) -> None:
        turn = self._chosen_turn()
        if turn is not None:
            self._act(turn, "edit")

    def on_turn_act(self, message: Turn.Act) -> None:
        message.stop()
        self._act(message.turn, message.what)

    def _act(self, turn: Turn, what: str) -> None:
        if self.running:
            self.notify("Stop the reply first (Esc).", severity="warning")
            return
        transcript = self.query_one(Transcript)
        position = transcript.position_of(turn)
        prompts = [t for t in transcript.turns() if isinstance(t, UserTurn)]
        if position >= len(prompts) or position >= len(self.app.chat.numbers):
            self.notify("That reply has no prompt to act on.")
            return
        if what == "delete":
            self._ask_delete(position)
        else:
            self._ask_edit(position, prompts[position].content)

    def _ask_delete(self, position: int) -> None:
        from .dialogs import ConfirmDialog

        question = (f"Delete turn {position + 1}, its prompt and reply? Its runs stay in the database, "
                    "marked deleted; the turns after it stay. (y/n)")
        self.app.push_screen(ConfirmDialog(question), lambda yes: yes and self._remove(position, "deleted", None))

    def _ask_edit(self, position: int, prompt: str) -> None:
        from .edit_turn import EditTurnDialog

        if self.app.policy is None:
            self.notify(f"The models are not ready ({self.app.model_state}).", severity="warning")
            return
        later = len(self.app.chat.numbers) - position - 1
        title = f"Edit turn {position + 1}; it is sent again" + (
            f", and the {later} turn(s) after it go (their runs stay, marked edited)." if later else ".")
        self.app.push_screen(EditTurnDialog(title, prompt),
                             lambda text: text is not None and self._remove(position, "edited", text))

    def _remove(self, position: int, how: str, resend: str | None) -> None:
        """Mark the runs in the store first; the conversation changes once that is done."""
        chat = self.app.chat
        numbers = chat.numbers[position:] if resend is not None else [chat.numbers[position]]
        session = chat.session_id
        if session is None or self.app.db_path is None:
            self._removed(position, resend, 0)
            return
        from stars_engine.store.turns import remove_turns

        self._store_work(lambda store: remove_turns(store, session, numbers, how),
                         lambda marked: self._removed(position, resend, marked))

    def _removed(self, position: int, resend: str | None, marked: int) -> None:
        chat = self.app.chat
        if self.running or position >= len(chat.numbers):
            return  # the conversation moved on meanwhile
        later = resend is not None
        numbers = chat.drop(position, later=later)
        self.query_one(Transcript).remove_turn(position, later=later)
        if resend is None:
            self.notify(f"Turn {position + 1} deleted ({marked} run(s) kept, marked deleted).", timeout=3)
            self.query_one("#prompt").focus()
            return
        chat.reuse = numbers[0]  # the new prompt is that turn again
        self.query_one(PromptInput).remember(resend)  # Up in the empty box recalls it, as a typed prompt
        self.start_run(resend)
