"""The default reward: an embedding rubric on all-MiniLM-L6-v2.

It is a stand-in for a trained reward model, and says so: the score of a
(partial) reply is how close it sits to the "prefer" exemplars minus how close
it sits to the "avoid" exemplars, plus a weighted relevance to the prompt.
All similarities are cosine similarities of mean-pooled sentence embeddings, so
scores fall roughly in [-1, 1.5]. The exemplars are data: edit them in the TUI
or pass ``--rubric FILE`` (JSON with "prefer", "avoid", "relevance_weight").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from ..bounded_read import read_json
from ..display.controls import valid_text
from ..errors import StarsError

DEFAULT_RUBRIC_FILE = Path(__file__).with_name("default_rubric.json")
# Every exemplar is embedded before the first token: 40,000 of them took 88 s. The caps keep that
# to a second or two on a CPU, far above what a rubric needs.
MAX_RUBRIC_BYTES = 256 * 1024
MAX_EXEMPLARS = 200
MAX_EXEMPLAR_CHARS = 2000


@dataclass(frozen=True)
class Rubric:
    prefer: list[str] = field(default_factory=list)
    avoid: list[str] = field(default_factory=list)
    relevance_weight: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def load(cls, path: Path | None = None) -> Rubric:
        """Read a rubric JSON file (the bundled default when ``path`` is None)."""
        path = Path(path) if path is not None else DEFAULT_RUBRIC_FILE
        data = read_json(path, "rubric file", MAX_RUBRIC_BYTES)
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: object, where: str = "rubric") -> Rubric:
        if not isinstance(data, dict):
            raise StarsError(f"{where}: expected a JSON object with 'prefer' and 'avoid' lists")
        prefer, avoid = data.get("prefer"), data.get("avoid")
        for name, items in (("prefer", prefer), ("avoid", avoid)):
            if not isinstance(items, list) or not items or not all(isinstance(s, str) and s.strip() for s in items):
                raise StarsError(f"{where}: '{name}' must be a non-empty list of non-empty strings")
            if len(items) > MAX_EXEMPLARS or max(map(len, items)) > MAX_EXEMPLAR_CHARS:
                raise StarsError(f"{where}: '{name}' may hold at most {MAX_EXEMPLARS} exemplars of at most "
                                 f"{MAX_EXEMPLAR_CHARS} characters each")
            for text in items:
                valid_text(text, f"{where}: an exemplar in '{name}'")
        weight = data.get("relevance_weight", 0.5)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 10:
            raise StarsError(f"{where}: 'relevance_weight' must be a number between 0 and 10")
        return cls(prefer=list(prefer or ()), avoid=list(avoid or ()), relevance_weight=float(weight))


class Embedder(Protocol):
    """Texts in, one L2-normalised vector per text out (a float tensor, one row each)."""

    server_url: str  # where a served embedder runs; "" in-process
    served_model: str

    def __call__(self, texts: list[str]) -> torch.Tensor: ...


MAX_TOKENS = 256  # the embedder's cut, in-process and served


def embedding_ids(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids of each text as the rubric embeds it: special tokens added, cut at ``MAX_TOKENS``
    with the closing [SEP] kept (a server's own cut drops it), so local and served vectors agree."""
    return [list(ids) for ids in tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]]


class RubricReward:
    """Score = max sim(prefer) - max sim(avoid) + relevance_weight * sim(prompt).

    The embedder is local or served; either way the exemplars are embedded once
    per rubric and a round embeds only its candidates (and a new prompt, once).
    """

    def __init__(self, embedder: Embedder, rubric: Rubric, reward_id: str):
        self.embed = embedder
        self.reward_id = reward_id
        self._prompt_cache: tuple[str, torch.Tensor] | None = None
        self.rubric = rubric

    @property
    def server_url(self) -> str:
        return self.embed.server_url

    @property
    def served_model(self) -> str:
        return self.embed.served_model

    @property
    def rubric(self) -> Rubric:
        return self._rubric

    @rubric.setter
    def rubric(self, rubric: Rubric) -> None:
        """Replace the exemplars (between runs); their embeddings are computed once here."""
        self._rubric = rubric
        self._prefer = self.embed(rubric.prefer)
        self._avoid = self.embed(rubric.avoid)

    def _prompt_vector(self, prompt: str) -> torch.Tensor:
        cached = self._prompt_cache  # read once: runs in other threads may replace it meanwhile
        if cached is None or cached[0] != prompt:
            cached = (prompt, self.embed([prompt])[0])
            self._prompt_cache = cached
        return cached[1]

    def score(self, prompt: str, replies: list[str]) -> list[float]:
        vectors = self.embed(replies)
        prefer = (vectors @ self._prefer.T).max(dim=1).values
        avoid = (vectors @ self._avoid.T).max(dim=1).values
        relevance = vectors @ self._prompt_vector(prompt)
        total = prefer - avoid + self._rubric.relevance_weight * relevance
        return [round(float(x), 6) for x in total]
