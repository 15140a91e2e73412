"""Every bad input of issue 11, tried as a hostile user would, and counted.

    .venv/bin/python benchmarks/bad_inputs.py [-k TEXT] [--json FILE]

Each case runs ``python -m stars_tui ARGS`` in a fresh process, in a fresh
folder holding a good session database (the demo session, imported), a good
JSONL export and whatever broken file the case needs. A case is a **clean
error** when the process exits 2 with exactly one ``error:`` line on stderr,
no traceback, every database in the folder byte-identical and no new file
left behind. Otherwise it counts as a traceback, as silently accepted (exit 0),
as a changed database, or as other. Model-folder cases also check that the
folder's own Python never ran. No case loads model weights.

The last line is the figure README's reliability section quotes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from store import bad_imports  # noqa: E402
from tui.test_cli_errors import BAD_OPTIONS  # noqa: E402
from weights import model_folders  # noqa: E402

DEMO = ROOT / "sessions" / "demo.jsonl"
SESSION, RUN = "4da47259", "1b169278"  # the demo session and its run
SURROGATE = b"\xed\xa0\x80"  # a lone surrogate, as bytes on argv or stdin
NOT_OURS = ("-wal", "-shm", "-journal")


@dataclass
class Case:
    name: str
    argv: list[str | bytes]  # "{dir}" is the case's folder, "{db}" its good database
    stdin: bytes = b""
    prepare: Callable[[Path], object] | None = None  # makes the broken file the case needs
    code_marker: bool = False  # a model folder whose Python must never run
    watch: list[str] = field(default_factory=list)


def _write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return make


def _sql(*statements: str) -> Callable[[Path], None]:
    import sqlite3

    def make(folder: Path) -> None:
        with sqlite3.connect(folder / "good.db") as conn:
            for statement in statements:
                conn.execute(statement)
        conn.close()
    return make


def _corrupt_page(folder: Path) -> None:
    import sqlite3

    db = folder / "good.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size, pages = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count"))
    conn.close()
    data = bytearray(db.read_bytes())
    data[(pages // 2) * size:(pages // 2 + 1) * size] = os.urandom(size)
    db.write_bytes(bytes(data))


def _truncate(folder: Path) -> None:
    data = (folder / "good.db").read_bytes()
    (folder / "good.db").write_bytes(data[: len(data) // 2])


def _other_program(folder: Path) -> None:
    import sqlite3

    with sqlite3.connect(folder / "other.db") as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()


def _bad_import(case: str) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        lines = [json.loads(line) for line in (folder / "good.jsonl").read_text().splitlines()]
        bad = bad_imports.apply(case, lines)
        (folder / "bad.jsonl").write_text("".join(json.dumps(line) + "\n" for line in bad))
    return make


def _rubric(data: object) -> Callable[[Path], None]:
    return _write("rubric.json", json.dumps(data))


def _fifo(folder: Path) -> None:
    os.mkfifo(folder / "pipe.md")


def _device(folder: Path) -> None:
    os.mknod(folder / "null.md", 0o666 | 0o020000, os.makedev(1, 3))  # a copy of /dev/null


def _symlink(folder: Path) -> None:
    (folder / "target.md").write_text("mine")
    (folder / "link.md").symlink_to(folder / "target.md")


def cases() -> list[Case]:
    out: list[Case] = []
    for options, _ in BAD_OPTIONS:
        out.append(Case("option " + " ".join(options), ["run", "hi", "--no-save", *options]))
    for options in (["--segment-tokens", "abc"], ["--threshold", "high"], ["--seed", "-1"],
                    ["--max-new-tokens", "99999999"], ["--device", "mps"], ["--device", "meta"],
                    ["--device", "cuda:7"], ["--device", "cuda:x"], ["--no-such-option"]):
        out.append(Case("option " + " ".join(options), ["run", "hi", "--db", "{db}", *options]))
    for make in (model_folders.custom_code, model_folders.custom_tokenizer, *model_folders.BROKEN.values()):
        for option in ("--model", "--reward"):
            marker = make in (model_folders.custom_code, model_folders.custom_tokenizer)
            folder = "{dir}/" + make.__name__.replace("_", "-")
            argv = ["run", "hi", option, folder, "--db", "{db}"]
            out.append(Case(f"{option} {make.__name__}", argv, b"y\ny\n", make, code_marker=marker))
    for option in ("--model", "--reward"):
        out.append(Case(f"{option} a hub id not in the cache", ["run", "hi", option, "nobody/none", "--db", "{db}"]))
        out.append(Case(f"{option} a folder with no config", ["run", "hi", option, "{dir}", "--db", "{db}"]))
    rubrics = {
        "not JSON": _write("rubric.json", "{oops"),
        "avoid is a number": _rubric({"prefer": ["x"], "avoid": 5}),
        "40,000 exemplars": _rubric({"prefer": ["be kind"] * 40_000, "avoid": ["no"]}),
        "500 exemplars": _rubric({"prefer": ["be kind"] * 500, "avoid": ["no"]}),
        "a surrogate exemplar": _write("rubric.json", '{"prefer": ["\\ud800"], "avoid": ["x"]}'),
        "a folder": lambda folder: (folder / "rubric.json").mkdir(),
    }
    for name, make in rubrics.items():
        out.append(Case(f"rubric: {name}", ["run", "hi", "--rubric", "{dir}/rubric.json", "--db", "{db}"],
                        prepare=make))
    out.append(Case("rubric with --reward", ["run", "hi", "--reward", "{dir}", "--rubric", "{dir}/rubric.json",
                                             "--db", "{db}"], prepare=_rubric({"prefer": ["x"], "avoid": ["y"]})))
    out += [
        Case("prompt empty", ["run", "", "--db", "{db}"]),
        Case("prompt blank on stdin", ["run", "-", "--db", "{db}"], b"  \n"),
        Case("prompt with a lone surrogate", ["run", SURROGATE, "--db", "{db}"]),
        Case("--system with a lone surrogate", ["run", "hi", "--system", SURROGATE, "--db", "{db}"]),
        Case("stdin in Latin-1", ["run", "-", "--db", "{db}"], "café".encode("latin-1")),
        Case("stdin with a lone surrogate", ["run", "-", "--db", "{db}"], SURROGATE),
    ]
    databases = {
        "not SQLite": _write("good.db", "just notes\n" * 100),
        "truncated": _truncate,
        "a corrupt page": _corrupt_page,
        "a newer schema": _sql("PRAGMA user_version = 99"),
        "a future migration": _sql("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                                   "VALUES ('stars', '0002_tomorrow', '')"),
    }
    for name, make in databases.items():
        out.append(Case(f"database {name}: run", ["run", "hi", "--db", "{db}"], prepare=make))
        out.append(Case(f"database {name}: export", ["export", RUN, "-o", "{dir}/x.md", "--db", "{db}"], prepare=make))
    out += [
        Case("database of another program", ["sessions", "list", "--db", "{dir}/other.db"], prepare=_other_program),
        Case("database is a folder", ["sessions", "list", "--db", "{dir}"]),
        Case("database under a file", ["sessions", "list", "--db", "{dir}/good.jsonl/s.db"]),
        Case("database under /proc", ["sessions", "list", "--db", "/proc/stars-nowhere/s.db"]),
        Case("database in a read-only folder", ["sessions", "list", "--db", "{dir}/ro/good.db"], prepare=_read_only),
    ]
    out += [
        Case("session id unknown: show", ["sessions", "show", "zz99", "--db", "{db}"]),
        Case("session id unknown: rename", ["sessions", "rename", "zz99", "x", "--db", "{db}"]),
        Case("run id unknown: replay", ["replay", "zz99", "--plain", "--db", "{db}"]),
        Case("run id unknown: export", ["export", "zz99", "-o", "{dir}/x.md", "--db", "{db}"]),
        Case("rename to a lone surrogate", ["sessions", "rename", SESSION, SURROGATE, "--db", "{db}"]),
        Case("rename to blanks", ["sessions", "rename", SESSION, "   ", "--db", "{db}"]),
        Case("search a lone surrogate", ["sessions", "search", SURROGATE, "--db", "{db}"]),
        Case("search blanks", ["sessions", "search", "  ", "--db", "{db}"]),
        Case("delete without --yes, not on a terminal", ["sessions", "delete", SESSION, "--db", "{db}"]),
        Case("id of escape sequences", ["sessions", "show", "\x1b]52;c;eA==\x07", "--db", "{db}"]),
    ]
    out += [
        Case("export onto a file without --force", ["export", RUN, "-o", "{dir}/good.jsonl", "--db", "{db}"]),
        Case("export --force onto a FIFO", ["export", RUN, "-o", "{dir}/pipe.md", "--force", "--db", "{db}"],
             prepare=_fifo),
        Case("export --force onto a symlink", ["export", RUN, "-o", "{dir}/link.md", "--force", "--db", "{db}"],
             prepare=_symlink),
        Case("export to an unknown extension", ["export", RUN, "-o", "{dir}/x.txt", "--db", "{db}"]),
        Case("export to an unknown format", ["export", RUN, "-o", "{dir}/x.md", "-f", "pdf", "--db", "{db}"]),
        Case("export --format contradicting the extension", ["export", RUN, "-o", "{dir}/x.md", "-f", "csv",
                                                              "--db", "{db}"]),
        Case("export -o - without --format", ["export", RUN, "-o", "-", "--db", "{db}"]),
        Case("export into a missing folder", ["export", RUN, "-o", "{dir}/nowhere/x.md", "--db", "{db}"]),
        Case("export onto a folder", ["export", RUN, "-o", "{dir}", "-f", "md", "--force", "--db", "{db}"]),
    ]
    if os.geteuid() == 0:
        out.append(Case("export --force onto a device node", ["export", RUN, "-o", "{dir}/null.md", "--force",
                                                              "--db", "{db}"], prepare=_device))
    for case in sorted(bad_imports.CASES):
        out.append(Case(f"import: {case}", ["import", "{dir}/bad.jsonl", "--db", "{db}"], prepare=_bad_import(case)))
    imports = {
        "not JSON": "{oops\n",
        "a JSON list": "[1, 2]\n",
        "an empty file": "",
        "a newer format": '{"type": "session", "format": "stars-session", "version": 7, "id": "a", "title": "t"}\n',
        "Latin-1 bytes": b'{"type": "session", "title": "caf\xe9"}\n',
        "NaN bare": '{"type": "session", "format": "stars-session", "version": 1, "id": "a", "title": NaN}\n',
    }
    for name, content in imports.items():
        out.append(Case(f"import: {name}", ["import", "{dir}/bad.jsonl", "--db", "{db}"],
                        prepare=_write("bad.jsonl", content)))
    out += [
        Case("import a missing file", ["import", "{dir}/missing.jsonl", "--db", "{db}"]),
        Case("import the same session twice", ["import", str(DEMO), "--db", "{db}"]),
        Case("an unknown command", ["frobnicate"]),
        Case("a missing argument", ["sessions", "rename", SESSION, "--db", "{db}"]),
        Case("replay --speed -1", ["replay", RUN, "--plain", "--speed", "-1", "--db", "{db}"]),
        Case("sessions list --limit 0", ["sessions", "list", "--limit", "0", "--db", "{db}"]),
        Case("export without -o", ["export", RUN, "--db", "{db}"]),
    ]
    return out


def _read_only(folder: Path) -> None:
    """good.db in a folder nobody may write: mode 0555, or for root (who ignores modes) a read-only mount."""
    ro = folder / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(ro)], check=True)
    shutil.copy(folder / "good.db", ro / "good.db")
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
    else:
        ro.chmod(0o555)


def _release(folder: Path) -> None:
    ro = folder / "ro"
    if ro.is_dir():
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)], check=False)
        ro.chmod(0o755)


def _files(folder: Path) -> dict[Path, str]:
    """Every plain file under ``folder`` (SQLite's own -wal/-shm aside) with its digest."""
    out = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and not path.name.endswith(NOT_OURS):
            out[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def classify(code: int, stderr: str, before: dict[Path, str], after: dict[Path, str], ran_code: bool) -> str:
    """One word for how a bad input was handled; ``clean`` is the only good one."""
    databases = {p for p in before | after if p.suffix == ".db"}
    if "Traceback" in stderr:
        return "traceback"
    if any(before.get(p) != after.get(p) for p in databases):
        return "database changed"
    if ran_code:
        return "code ran"
    if code == 0:
        return "silently accepted"
    if code == 2 and stderr.startswith("error: ") and stderr.count("\n") == 1 and before == after:
        return "clean"
    return "other"


def run_case(case: Case, template: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="stars-bad-") as tmp:
        folder = Path(tmp)
        for name in ("good.db", "good.jsonl"):
            shutil.copy(template / name, folder / name)
        if case.prepare is not None:
            case.prepare(folder)
        try:
            before = _files(folder)
            argv = [a.replace("{dir}", str(folder)).replace("{db}", str(folder / "good.db")).encode()
                    if isinstance(a, str) else a for a in case.argv]
            proc = subprocess.run([sys.executable.encode(), b"-m", b"stars_tui", *argv], input=case.stdin,
                                  capture_output=True, timeout=300, cwd=folder)
            after = _files(folder)
            ran = case.code_marker and any(p.name == "RAN" for p in after)
            stderr = proc.stderr.decode("utf-8", "backslashreplace")
            outcome = classify(proc.returncode, stderr, before, after, ran)
        finally:
            _release(folder)
    return {"case": case.name, "outcome": outcome, "exit": proc.returncode, "stderr": stderr.strip()[:300]}


def template_folder(where: Path) -> Path:
    """The demo session imported into good.db, and a good JSONL export of it."""
    for argv in (["import", str(DEMO), "--db", str(where / "good.db")],
                 ["export", SESSION, "-o", str(where / "good.jsonl"), "--db", str(where / "good.db")]):
        subprocess.run([sys.executable, "-m", "stars_tui", *argv], check=True, capture_output=True)
    return where


def figure(counts: Counter) -> str:
    n = sum(counts.values())
    line = (f"{n} bad inputs, {counts['clean']} clean errors, {counts['traceback']} tracebacks, "
            f"{counts['silently accepted']} silently accepted, {counts['database changed']} databases changed")
    rest = {k: v for k, v in counts.items() if k not in ("clean", "traceback", "silently accepted", "database changed")}
    return line + "".join(f", {v} {k}" for k, v in sorted(rest.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="run only the cases whose name contains this text")
    parser.add_argument("--json", type=Path, help="also write every case's result here")
    args = parser.parse_args()
    chosen = [c for c in cases() if args.k in c.name]
    results = []
    with tempfile.TemporaryDirectory(prefix="stars-bad-template-") as tmp:
        template = template_folder(Path(tmp))
        for case in chosen:
            result = run_case(case, template)
            results.append(result)
            mark = "ok  " if result["outcome"] == "clean" else "FAIL"
            print(f"{mark} {case.name}: {result['outcome']} (exit {result['exit']}) {result['stderr'][:120]!r}",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    counts = Counter(r["outcome"] for r in results)
    print(figure(counts))
    return 0 if counts["clean"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
