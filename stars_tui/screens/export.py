"""The export dialog: a run or a session to md / jsonl / html / csv.

The proposed file is in the sessions folder (beside the database), named for
the run or session. The format follows the file name's extension when the
user types one (any the exporters know, ``.markdown`` and ``.htm`` too), and
the extension follows the format when they pick one. The export runs in a
thread worker; a refusal (folder missing) is shown in the dialog, which stays
open, and a file that exists is not replaced until the user says so: the
dialog offers to overwrite it (ticked "overwrite", Export again).
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select

from stars_engine.errors import StarsError
from stars_engine.store.export import SUFFIXES

from ..literal import literal

FORMAT_NAMES = ("md", "jsonl", "html", "csv")


def default_path(folder: Path, kind: str, ident: str, fmt: str) -> Path:
    """``<sessions folder>/stars-session-1a2b3c4d.md``: where the database is, not wherever the app started."""
    return folder / f"stars-{kind}-{ident[:8]}.{fmt}"


def exists_as_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # ValueError: a NUL in the path; the export reports it
        return False


def export(db_path: Path, kind: str, ident: str, fmt: str, path: Path, force: bool) -> Path:
    """Write the run or session with the store's exporters; StarsError on any refusal."""
    from stars_engine.store import export_run, export_session, open_store

    writer = export_run if kind == "run" else export_session
    with open_store(db_path) as store:
        return writer(store, ident, fmt, path, force)


class ExportDialog(ModalScreen[Path | None]):
    """Pick a format and a file; dismissed with the written path, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, db_path: Path, kind: str, ident: str) -> None:
        super().__init__()
        self.db_path = db_path
        self.kind = kind
        self.ident = ident

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Export {self.kind} {self.ident[:8]}", classes="title")
            yield Select([(f, f) for f in FORMAT_NAMES], value="md", allow_blank=False, id="format")
            yield Input(str(default_path(self.db_path.parent, self.kind, self.ident, "md")), id="path")
            yield Checkbox("overwrite an existing file", id="force")
            yield Label("", id="export-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Export", variant="primary", id="export")

    @on(Select.Changed, "#format")
    def format_changed(self, event: Select.Changed) -> None:
        box = self.query_one("#path", Input)
        path = Path(box.value)
        named = SUFFIXES.get(path.suffix.lower())
        if named is not None and named != event.value:
            box.value = str(path.with_suffix(f".{event.value}"))

    @on(Input.Changed, "#path")
    def path_changed(self, event: Input.Changed) -> None:
        named = SUFFIXES.get(Path(event.value).suffix.lower())
        if named is not None:
            self.query_one("#format", Select).value = named

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#export")
    def write(self) -> None:
        fmt = str(self.query_one("#format", Select).value)
        path = Path(self.query_one("#path", Input).value).expanduser()
        force = self.query_one("#force", Checkbox).value
        self.query_one("#export-error", Label).update("writing…")
        self._write(fmt, path, force)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _write(self, fmt: str, path: Path, force: bool) -> None:
        """Reading the store and writing the file happen off the UI thread."""
        if not force and exists_as_file(path):
            self.app.call_from_thread(self._offer_overwrite, path)
            return
        try:
            written = export(self.db_path, self.kind, self.ident, fmt, path, force)
        except StarsError as exc:
            self.app.call_from_thread(self._refused, str(exc))
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            self.app.call_from_thread(self._refused, f"cannot write {path}: {exc}")
        else:
            self.app.call_from_thread(self._written, written)

    def _offer_overwrite(self, path: Path) -> None:
        self.query_one("#force", Checkbox).value = True
        self._refused(f"{path} already exists: press Export again to overwrite it, or change the name.")
        self.query_one("#export", Button).focus()

    def _refused(self, reason: str) -> None:
        self.query_one("#export-error", Label).update(literal(reason))

    def _written(self, written: Path) -> None:
        self.app.notify(f"Wrote {written}", title="Exported")
        self.dismiss(written)

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        self.dismiss(None)
