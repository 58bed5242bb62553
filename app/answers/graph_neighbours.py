"""Callers and callees of the retrieved code, from the symbol graph, as extra evidence: the function that calls the
one a question is about often shows how it is used. They never displace a retrieved passage — they only take
places `max_results` leaves free — and each says how it relates to what was retrieved (`answers.graph_neighbours`)."""

from __future__ import annotations

from collections.abc import Sequence

from app.answers.passages import Passage
from app.search.graph.queries import expand

SEEDS = 3  # the best code passages expanded from


async def neighbours(passages: Sequence[Passage], *, team_id: int, room: int) -> list[Passage]:
    """Up to `room` neighbours of the best code passages, nearest first; none already among `passages`."""
    seeds = [p for p in passages if p.kind == "code" and p.chunk_id is not None][:SEEDS]
    if room <= 0 or not seeds:
        return []
    by_repository = {p.document.split(":")[1]: p.repository for p in seeds}
    have = {(p.document, p.start_line, p.end_line) for p in passages}
    found = await expand([p.chunk_id for p in seeds if p.chunk_id is not None], team_id=team_id, limit=room * 2)
    out: list[Passage] = []
    for near in found:
        document = f"code:{near.repository_id}:{near.path}"
        if (document, near.start_line, near.end_line) in have:
            continue
        repository = by_repository.get(str(near.repository_id)) or str(near.repository_id)
        # A caller's `via` is its own name; a callee's is the name the retrieved code called it by.
        relation = f"caller of the retrieved code: {near.via}" if near.relation == "caller" else f"callee: {near.via}"
        out.append(
            Passage(
                kind="code",
                document=document,
                title=f"{repository}:{near.path}",
                text=near.text,
                start_line=near.start_line,
                end_line=near.end_line,
                path=near.path,
                repository=repository,
                ranks={"graph": len(out) + 1},
                chunk_id=near.chunk_id,
                related=relation,
            )
        )
        if len(out) >= room:
            break
    return out
