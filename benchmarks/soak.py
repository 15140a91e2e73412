"""Soak the session store: two recording runs, a large import and a stream of readers on one database.

    python benchmarks/soak.py                      # 5 minutes, a 200 MB import, two reader streams
    python benchmarks/soak.py --seconds 20 --import-mb 3 --readers 1 --json out.json

Every actor is its own process on one real SQLite file, as people use stars:
two processes record runs back to back (each run is one `Recorder`), one runs
`stars import` of a generated JSONL export, and the readers run `stars
sessions list|show|search`, `stars replay --plain` and `stars export` one
after another. The recording runs use the scripted policy and reward of
tests/fakes.py (no model), so what is measured is the store, not a model.
The soak lasts ``--seconds`` and at least until the import has finished.

It reports whether every run finished with every attempt it passed on
recorded (checked against the database afterwards), whether the import and
every reader succeeded, and the machine's state. Exit code 0 only if so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

READERS = (
    ["sessions", "list"],
    ["sessions", "show", "{session}"],
    ["sessions", "search", "kind"],
    ["replay", "{run}", "--plain"],
    ["export", "{session}", "-o", "{out}.md", "--force"],
    ["export", "{run}", "-o", "{out}.jsonl", "--force"],
)


def stars(*argv: str) -> list[str]:
    return [sys.executable, "-m", "stars_tui", *argv]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


# -- the import file -------------------------------------------------------------------------
def make_import(folder: Path, megabytes: float) -> tuple[Path, int]:
    """A JSONL export of copies of one recorded session (new ids each), ``megabytes`` long; (file, sessions)."""
    from fakes import ScriptedPolicy, ScriptedReward

    from stars_engine.engine import run
    from stars_engine.params import Params
    from stars_engine.store import Recorder, export_session, open_store

    template_db = folder / "template.db"
    recorder = Recorder(template_db)
    params = Params(segment_tokens=4, max_new_tokens=64, max_attempts=4, candidates_per_round=2, seed=5)
    for _ in recorder.record(run(ScriptedPolicy(), ScriptedReward(), [{"role": "user", "content": "be kind"}], params)):
        pass
    with open_store(template_db) as store:
        export_session(store, recorder.session_id, "jsonl", folder / "template.jsonl")
    template = (folder / "template.jsonl").read_text(encoding="utf-8")
    path, copies, size = folder / "import.jsonl", 0, 0
    with path.open("w", encoding="utf-8") as f:
        while size < megabytes * 1e6:
            copy = template.replace(recorder.session_id, f"imp{copies:08d}").replace(recorder.run_id,
                                                                                   f"imprun{copies:08d}")
            f.write(copy)
            size += len(copy.encode("utf-8"))
            copies += 1
    return path, copies


# -- the actors (each its own process) ----------------------------------------------------------
def recorder_role(db: Path, stop: Path, name: str) -> None:
    """Record scripted runs back to back until ``stop`` exists; print one JSON line per run."""
    from fakes import ScriptedPolicy, ScriptedReward

    from stars_engine.engine import run
    from stars_engine.errors import StarsError
    from stars_engine.events import AttemptScored
    from stars_engine.params import Params
    from stars_engine.store import Recorder

    params = Params(segment_tokens=3, max_new_tokens=36, max_attempts=4, candidates_per_round=2)
    n = 0
    while not stop.exists():
        recorder = Recorder(db)
        attempts = events = 0
        error = None
        prompt = [{"role": "user", "content": f"{name} run {n}: be kind"}]
        try:
            for event in recorder.record(run(ScriptedPolicy(delay=0.002), ScriptedReward(), prompt, params)):
                events += 1
                attempts += isinstance(event, AttemptScored)
        except StarsError as exc:
            error = str(exc)
        print(json.dumps({"run": recorder.run_id, "events": events, "attempts": attempts, "error": error}),
              flush=True)
        n += 1


def reader_role(db: Path, stop: Path, out: Path, seed: int) -> None:
    """Run reading commands one after another until ``stop`` exists; print one JSON line per command."""
    rng = random.Random(seed)
    while not stop.exists():
        try:
            with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
                row = conn.execute("SELECT id, session_id FROM runs WHERE status = 'finished' "
                                   "ORDER BY rowid DESC LIMIT 1").fetchone()
        except sqlite3.OperationalError:  # not created yet by the recorders
            row = None
        if row is None:
            time.sleep(0.2)
            continue
        argv = [a.format(run=row[0], session=row[1], out=out) for a in rng.choice(READERS)]
        start = time.monotonic()
        done = subprocess.run(stars(*argv, "--db", str(db)), capture_output=True, text=True, env=env())
        print(json.dumps({"argv": argv[:2], "code": done.returncode, "seconds": round(time.monotonic() - start, 2),
                          "error": done.stderr.strip().splitlines()[-1] if done.returncode else None}), flush=True)


# -- the conductor ------------------------------------------------------------------------------
def machine_state() -> dict[str, object]:
    mem = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return {"cpus": os.cpu_count(), "loadavg": os.getloadavg(),
            "mem_available_gib": round(int(mem["MemAvailable"].split()[0]) / 2**20, 1)}


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def soak(folder: Path, seconds: float, import_mb: float, readers: int = 2) -> dict[str, object]:
    """Run the soak in ``folder``; the report (``ok`` True when nothing was lost and nothing failed)."""
    db, stop = folder / "soak.db", folder / "stop"
    stop.unlink(missing_ok=True)
    made = time.monotonic()
    path, sessions = make_import(folder, import_mb)
    report: dict[str, object] = {"import_mb": round(path.stat().st_size / 1e6, 1), "import_sessions": sessions,
                                 "generate_s": round(time.monotonic() - made, 1), "machine_before": machine_state()}
    me = str(Path(__file__).resolve())
    logs: list[tuple[Path, Path]] = []

    def launch(argv: list[str], name: str) -> subprocess.Popen:
        """An actor whose output goes to files: a pipe nobody reads until the end would block it."""
        out, err = folder / f"{name}.out", folder / f"{name}.err"
        logs.append((out, err))
        with out.open("w") as o, err.open("w") as e:
            return subprocess.Popen(argv, stdout=o, stderr=e, text=True, env=env())

    start = time.monotonic()
    actors = [launch([sys.executable, me, "--role", "recorder", str(db), str(stop), f"rec{i}"], f"rec{i}")
              for i in range(2)]
    time.sleep(1)  # the recorders create the database first: the import joins a live one
    importer = launch(stars("import", str(path), "--db", str(db)), "import")
    actors += [launch([sys.executable, me, "--role", "reader", str(db), str(stop), str(folder / f"r{i}"), str(i)],
                      f"reader{i}") for i in range(readers)]
    import_s = None
    while True:
        time.sleep(0.5)
        if import_s is None and importer.poll() is not None:
            import_s = time.monotonic() - start - 1
        if import_s is not None and time.monotonic() - start >= seconds:
            break
    stop.touch()
    for actor in actors:
        actor.wait(timeout=600)
    outputs = [(out.read_text(), err.read_text()) for out, err in logs]
    imported = outputs.pop(2)
    report["wall_s"] = round(time.monotonic() - start, 1)
    report["machine_after"] = machine_state()
    report["import"] = {"code": importer.returncode, "seconds": round(import_s, 1),
                        "mb_per_s": round(path.stat().st_size / 1e6 / import_s, 2),
                        "error": imported[1].strip()[-300:] or None}
    runs = [line for out, _ in outputs[:2] for line in _lines(out)]
    reads = [line for out, _ in outputs[2:] for line in _lines(out)]
    crashed = [err.strip()[-300:] for _, err in outputs if err.strip()]
    report.update(_check_db(db, runs, sessions))
    failed_reads = [r for r in reads if r["code"] not in (0, 1)]  # 1: a search that found nothing
    report["runs"] = len(runs)
    report["runs_with_error"] = [r for r in runs if r["error"]][:5]
    report["attempts_passed_on"] = sum(r["attempts"] for r in runs)
    report["reads"] = len(reads)
    report["reads_failed"] = failed_reads[:5]
    report["read_s_max"] = max((r["seconds"] for r in reads), default=None)
    report["actor_stderr"] = crashed[:3]
    report["ok"] = (importer.returncode == 0 and not report["runs_with_error"] and not failed_reads and not crashed
                    and report["runs_lost_data"] == [] and report["imported_sessions"] == sessions
                    and report["integrity"] == "ok" and len(runs) >= 2 and len(reads) >= 1)
    return report


def _check_db(db: Path, runs: list[dict], sessions: int) -> dict[str, object]:
    """Every run the recorders saw is in the database, finished, with every attempt and event."""
    from stars_engine.events import AttemptScored
    from stars_engine.store import open_store

    lost = []
    with open_store(db) as store:
        for r in runs:
            events = store.run_events(r["run"])
            attempts = sum(isinstance(e, AttemptScored) for e in events)
            status = store.get_run(r["run"]).status
            if (status, attempts, len(events)) != ("finished", r["attempts"], r["events"]):
                lost.append({**r, "stored": [status, attempts, len(events)]})
        imported = store.db.execute("SELECT count(*) FROM sessions WHERE id LIKE 'imp%'").fetchone()[0]
        integrity = store.db.execute("PRAGMA integrity_check").fetchone()[0]
    return {"runs_lost_data": lost[:5], "imported_sessions": imported, "integrity": integrity,
            "db_mb": round(db.stat().st_size / 1e6, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--import-mb", type=float, default=200)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        role, db, stop, *rest = args.role
        if role == "recorder":
            recorder_role(Path(db), Path(stop), rest[0])
        else:
            reader_role(Path(db), Path(stop), Path(rest[0]), int(rest[1]))
        return 0
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        report = soak(Path(folder), args.seconds, args.import_mb, args.readers)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
