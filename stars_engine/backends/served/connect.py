"""Connect to served chat models: check each replica, pick the tokenizer, build the policies.

Every replica must answer and serve the model, so a typo or a dead replica is
one line before any run starts. The tokenizer comes from local files when
there are any (``--model``, or the folder the server was started on, when it is
on this machine); otherwise the server tokenizes and detokenizes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

from ...errors import StarsError
from .client import ServerClient, ServerError
from .policy import LocalCodec, ServedPolicy, ServerCodec


def served_policies(
    servers: Sequence[str],
    served_model: str | None = None,
    *,
    tokenizer: str | None = None,
    allow_download: bool = False,
    count: int = 1,
) -> list[ServedPolicy]:
    """``count`` policies spread round-robin over the replicas; each keeps to its own replica."""
    if not servers:
        raise StarsError("no --server given")
    clients = [ServerClient(url) for url in servers]
    cards = [client.model_card(served_model, "chat model") for client in clients]
    name = cards[0].id
    for client, card in zip(clients[1:], cards[1:]):
        if card.id != name:  # only when --served-model was left out and replicas differ
            raise ServerError(client.base_url, f"the replicas serve different models: {name} at {clients[0].base_url}, "
                              f"{card.id} here; pick one with --served-model")
    context = cards[0].max_model_len or 0
    local = local_tokenizer(tokenizer, cards[0].root, allow_download, "chat model")
    vocab = len(local) if local is not None else None
    policies = []
    for i in range(count):
        client = clients[i % len(clients)]
        codec = LocalCodec(copy.deepcopy(local)) if local is not None else ServerCodec(client, name)
        policies.append(ServedPolicy(client, name, codec, context, vocab))
    return policies


def local_tokenizer(ref: str | None, root: str | None, allow_download: bool, what: str):
    """The tokenizer from ``ref`` (an error if it will not load), else from the server's folder if it is here.

    Both go through the one safe loader: a folder's own Python never runs. A
    server's folder that will not load that way (custom code, broken files) is
    not used: the server tokenizes instead.
    """
    from transformers import AutoTokenizer

    from ...weights.safe_load import check_model, pretrained

    if ref is not None:
        return pretrained(AutoTokenizer, check_model(ref, what, allow_download), what, allow_download)
    if root and Path(root).is_dir():
        try:
            return pretrained(AutoTokenizer, str(Path(root).resolve()), f"the server's {what} folder")
        except StarsError:
            return None
    return None
