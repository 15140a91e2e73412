"""The database schema, created and upgraded by sqlite-utils ``Migrations``.

Each migration is a numbered step; ``SCHEMA_VERSION`` is the number of the
last one. ``connect`` writes it to ``PRAGMA user_version`` once the steps have
applied (a step never sets it: a database that gets an older missing step
would otherwise go back to that step's number), so a database made by a newer
``stars`` is recognised (and refused) before anything touches it.
Add a step by appending a function; never edit one that has shipped.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

MIGRATION_SET = "stars"
migrations = Migrations(MIGRATION_SET)


@migrations(name="0001_initial")
def _initial(db: Database) -> None:
    db["sessions"].create(
        {"id": str, "title": str, "created_at": str, "updated_at": str},
        pk="id",
    )
    db["runs"].create(
        {
            "id": str,
            "session_id": str,
            "turn": int,
            "status": str,  # running / finished / failed / interrupted
            "strategy": str,
            "params": str,  # JSON of the params the run started with
            "messages": str,  # JSON of RunStarted.messages (the whole history sent)
            "policy_id": str,
            "reward_id": str,
            "seed": int,
            "prompt_tokens": int,
            "baseline_reward": float,
            "started_at": str,
            "finished_at": str,
            "stop_reason": str,
            "final_text": str,
            "stats": str,  # JSON of RunStats
            "error": str,
            "host": str,  # host and pid of the recording process: a dead pid
            "pid": int,  # means the run was interrupted
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["runs"].create_index(["session_id", "turn"])
    db["messages"].create(
        {
            "id": int,
            "session_id": str,
            "run_id": str,
            "position": int,
            "role": str,
            "content": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id"), ("run_id", "runs", "id")],
    )
    db["messages"].create_index(["session_id", "position"])
    db["messages"].enable_fts(["content"], fts_version="FTS5", create_triggers=True)
    db["attempts"].create(
        {
            "run_id": str,
            "seq": int,
            "segment": int,
            "attempt": int,
            "text": str,
            "tokens": int,
            "reward": float,
            "threshold": float,
            "verdict": str,
            "elapsed_ms": float,
            "eos": int,
        },
        pk=("run_id", "seq"),
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["segments"].create(
        {
            "run_id": str,
            "seq": int,
            "segment": int,
            "text": str,
            "reward": float,
            "attempts": int,
            "exhausted": int,
            "tokens": int,
            "threshold": float,
        },
        pk=("run_id", "seq"),
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["param_changes"].create(
        {"run_id": str, "seq": int, "segment": int, "changes": str, "params": str},
        pk=("run_id", "seq"),
        foreign_keys=[("run_id", "runs", "id")],
    )
    db.execute("PRAGMA user_version = 1")


@migrations(name="0002_run_runtime")
def _run_runtime(db: Database) -> None:
    db["runs"].add_column("runtime", str)  # JSON of RunStarted.runtime: device, dtype, threads


@migrations(name="0003_served_backend")
def _served_backend(db: Database) -> None:
    """Which backend ran the chat model (RunStarted.backend, .server_url, .served_model); older runs were in-process."""
    db["runs"].add_column("backend", str, not_null_default="transformers")
    db["runs"].add_column("server_url", str, not_null_default="")
    db["runs"].add_column("served_model", str, not_null_default="")


@migrations(name="0004_served_reward")
def _served_reward(db: Database) -> None:
    """Where the reward ran (RunStarted.reward_server_url, .served_reward); older runs scored in-process."""
    db["runs"].add_column("reward_server_url", str, not_null_default="")
    db["runs"].add_column("served_reward", str, not_null_default="")


@migrations(name="0005_attempt_cut_and_round")
def _attempt_cut_and_round(db: Database) -> None:
    """CARDS records the entropy that cut a segment; Speculative Rejection the round a reply was pruned."""
    db["attempts"].add_column("cut_entropy", float)
    db["attempts"].add_column("round", int)


@migrations(name="0006_system_rubric_removed")
def _system_rubric_removed(db: Database) -> None:
    """A session's system prompt; the rubric a run was scored with (JSON, "" for a reward that has no
    rubric); and a run taken out of the conversation (its turn deleted or edited), kept and marked."""
    db["sessions"].add_column("system_prompt", str, not_null_default="")
    db["runs"].add_column("rubric", str, not_null_default="")
    db["runs"].add_column("removed", str, not_null_default="")  # "", "deleted" or "edited"


@migrations(name="0007_comparisons")
def _comparisons(db: Database) -> None:
    """A comparison (``stars compare``, the compare screen) as one record linking its runs.

    ``columns`` is JSON: ``[[column index, spec label], ...]`` in column order (a column whose run
    never started has no run to carry its spec). ``summary`` is the compare's JSON summary (verdict
    lines, winners), "" when it produced none. ``turn`` is the turn the comparison answered, -1 when
    none of its columns was recorded. A run points at its comparison: ``comparison_id`` ("" : not part
    of one) and ``comparison_column`` (its column index, -1 when not part of one; -1 rather than NULL
    so every reader gets an int).
    """
    db["comparisons"].create(
        {
            "id": str,
            "session_id": str,
            "turn": int,
            "prompt": str,
            "base_seed": int,
            "created_at": str,
            "columns": str,
            "summary": str,
        },
        pk="id",
        not_null={"id", "session_id", "turn", "prompt", "base_seed", "created_at", "columns", "summary"},
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["comparisons"].create_index(["session_id"])
    db["runs"].add_column("comparison_id", str, not_null_default="")
    db["runs"].add_column("comparison_column", int, not_null_default=-1)
    db["runs"].create_index(["comparison_id"])


SCHEMA_VERSION = 7
KNOWN_MIGRATIONS = frozenset(m.name for m in migrations.pending(Database(memory=True)))
