"""Questions the symbol graph answers: where is X defined, where is it used, what calls it, what does it call,
and which chunks neighbour retrieved ones through calls.

Resolution happens here, against the repository's definitions as they are now: a reference's target
resolves when exactly one definition's qualified name equals it, or ends with it on a dotted boundary
(`pkg.mod.f` finds `src.pkg.mod.f`), or, for a target longer than any definition (a Go import path), is
ended by it; a name re-exported by a package (`from .core import f` in `pkg/__init__.py`) is followed to
where it is defined. Every other reference is reported unresolved, with its text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.db.models import Chunk, CodeReference, CodeSymbol
from app.db.repositories import graph as rows

REEXPORT_HOPS = 3
USE_KINDS = ("call", "import", "use", "base")
BASE_HOPS = 3  # inheritance levels searched for a method called on `self`


@dataclass(frozen=True)
class Symbol:
    qualified: str
    name: str
    kind: str
    path: str
    start_line: int
    end_line: int

    @classmethod
    def of(cls, row: CodeSymbol) -> Symbol:
        return cls(row.qualified, row.name, row.kind, row.path, row.start_line, row.end_line)


@dataclass(frozen=True)
class Site:
    """One reference: where it is, what it says, who makes it, and what it resolves to (None: unresolved)."""

    kind: str
    name: str
    path: str
    line: int
    source: str
    target: str | None
    resolved: Symbol | None


@dataclass
class Lookup:
    """The definitions a requested name matched; more than one for a bare name is an ambiguity."""

    symbol: str
    matches: list[Symbol]

    @property
    def ambiguous(self) -> bool:
        return len({m.qualified for m in self.matches}) > 1


@dataclass
class GraphAnswer:
    lookup: Lookup
    sites: list[Site] = field(default_factory=list)
    definitions: list[Symbol] = field(default_factory=list)


async def find_symbol(repo_id: int, symbol: str) -> Lookup:
    """A qualified name (`pkg.mod.Class.method`, or any dotted tail of one) or a bare one (`method`)."""
    symbol = symbol.strip()
    short = symbol.rsplit(".", 1)[-1]
    named = [Symbol.of(r) for r in await rows.symbols_named(repo_id, [short])]
    if "." in symbol:
        exact = [s for s in named if s.qualified == symbol]
        tails = [s for s in named if s.qualified.endswith("." + symbol)]
        # Longer than any definition: a name given from above the indexed root (`click.utils.echo` for
        # `utils.echo` when the package directory itself was indexed).
        heads = [s for s in named if "." in s.qualified and symbol.endswith("." + s.qualified)]
        named = exact or tails or heads
    # `checkout` means the function in checkout.py rather than the module, unless only the module matches.
    code = [s for s in named if s.kind != "module"]
    return Lookup(symbol, code or named)


async def definitions(repo_id: int, symbol: str) -> GraphAnswer:
    lookup = await find_symbol(repo_id, symbol)
    return GraphAnswer(lookup, definitions=lookup.matches)


async def references(repo_id: int, symbol: str, *, kinds: Sequence[str] = USE_KINDS) -> GraphAnswer:
    """Where the one definition `symbol` names is used: resolved sites first, then unresolved ones whose
    text ends in the same name (they may or may not mean it). Nothing for an ambiguous name; for a name
    defined nowhere in the repository (a builtin, another package's `requests.get`), the sites naming it."""
    lookup = await find_symbol(repo_id, symbol)
    if lookup.ambiguous:
        return GraphAnswer(lookup)
    if not lookup.matches:
        found = await rows.references_named(repo_id, [lookup.symbol.rsplit(".", 1)[-1]], kinds)
        return GraphAnswer(lookup, sites=[s for s in await resolve(repo_id, found) if _names(s, lookup.symbol)])
    wanted = lookup.matches[0]
    found = await rows.references_named(repo_id, [wanted.name], kinds)
    sites = await resolve(repo_id, found)
    resolved = [s for s in sites if s.resolved is not None and s.resolved.qualified == wanted.qualified]
    unresolved = [s for s in sites if s.resolved is None]
    return GraphAnswer(lookup, sites=resolved + unresolved)


def _names(site: Site, symbol: str) -> bool:
    """An unresolved site that says `symbol`: its target or text is it, or ends with it on a dot."""
    if site.resolved is not None:
        return False
    said = site.target or site.name
    return "." not in symbol or said == symbol or said.endswith("." + symbol)


async def callers(repo_id: int, symbol: str) -> GraphAnswer:
    return await references(repo_id, symbol, kinds=("call",))


async def callees(repo_id: int, symbol: str) -> GraphAnswer:
    """What the one definition `symbol` names calls, in source order, resolved where possible."""
    lookup = await find_symbol(repo_id, symbol)
    if lookup.ambiguous or not lookup.matches:
        return GraphAnswer(lookup)
    found = await rows.references_from(repo_id, [lookup.matches[0].qualified], ("call",))
    return GraphAnswer(lookup, sites=await resolve(repo_id, found))


async def resolve(repo_id: int, references_: Sequence[CodeReference]) -> list[Site]:
    targets = {r.target for r in references_ if r.target}
    resolved = await resolve_targets(repo_id, targets)
    return [
        Site(r.kind, r.name, r.path, r.line, r.source, r.target, resolved.get(r.target) if r.target else None)
        for r in references_
    ]


async def resolve_targets(repo_id: int, targets: Iterable[str], *, _hops: int = 0) -> dict[str, Symbol]:
    """Each target's one definition in the repository; targets without exactly one are left out."""
    targets = set(targets)
    pending = {t: t for t in targets}  # original target -> the name being looked for now
    found: dict[str, Symbol] = {}
    for _ in range(REEXPORT_HOPS + 1):
        if not pending:
            break
        shorts = {name.rsplit(".", 1)[-1] for name in pending.values()}
        symbols = [Symbol.of(r) for r in await rows.symbols_named(repo_id, sorted(shorts))]
        by_name: dict[str, list[Symbol]] = {}
        for s in symbols:
            by_name.setdefault(s.name, []).append(s)
        unmatched: dict[str, str] = {}
        for original, name in pending.items():
            match = _match(name, by_name.get(name.rsplit(".", 1)[-1], []))
            if match is not None:
                found[original] = match
            else:
                unmatched[original] = name
        pending = await _follow_reexports(repo_id, unmatched)
    if _hops < BASE_HOPS:
        found.update(await _inherited(repo_id, [t for t in targets if t not in found and "." in t], _hops))
    return found


async def _inherited(repo_id: int, targets: list[str], hops: int) -> dict[str, Symbol]:
    """`pkg.Child.m` not defined in Child: the first of Child's base classes (in declaration order, each
    searched before the next) that defines or inherits `m`."""
    classes = await resolve_targets(repo_id, {t.rpartition(".")[0] for t in targets}, _hops=BASE_HOPS)
    found: dict[str, Symbol] = {}
    for target in targets:
        owner = classes.get(target.rpartition(".")[0])
        if owner is None or owner.kind != "class":
            continue
        member = target.rpartition(".")[2]
        bases = [b.target for b in await rows.references_from(repo_id, [owner.qualified], ("base",)) if b.target]
        resolved = await resolve_targets(repo_id, bases, _hops=BASE_HOPS)
        for base in bases:
            if base in resolved and resolved[base].kind == "class":
                hit = await resolve_targets(repo_id, [f"{resolved[base].qualified}.{member}"], _hops=hops + 1)
                if hit:
                    found[target] = next(iter(hit.values()))
                    break
    return found


def _match(target: str, candidates: list[Symbol]) -> Symbol | None:
    for test in (
        lambda q: q == target,
        lambda q: q.endswith("." + target),
        lambda q: "." in q and target.endswith("." + q),
    ):
        hits = {s.qualified: s for s in candidates if test(s.qualified)}
        if hits:
            return next(iter(hits.values())) if len(hits) == 1 else None
    return None


async def _follow_reexports(repo_id: int, unmatched: dict[str, str]) -> dict[str, str]:
    """For `pkg.f` not defined anywhere: an import binding `f` in module `pkg` says where `pkg.f` comes from."""
    if not unmatched:
        return {}
    imports = await rows.references_named(repo_id, {n.rsplit(".", 1)[-1] for n in unmatched.values()}, ("import",))
    bindings: dict[str, set[str]] = {}
    for imp in imports:
        if imp.target:
            bindings.setdefault(f"{imp.source}.{imp.name}", set()).add(imp.target)
    followed: dict[str, str] = {}
    for original, name in unmatched.items():
        via = {t for key, ts in bindings.items() if key == name or key.endswith("." + name) for t in ts}
        if len(via) == 1 and (target := via.pop()) != name:
            followed[original] = target
    return followed


# --- expansion -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Neighbour:
    """A chunk reached from a retrieved one: it calls (`caller`) or is called by (`callee`) `via`."""

    chunk_id: int
    repository_id: int
    path: str
    start_line: int
    end_line: int
    text: str
    relation: str
    via: str
    depth: int


async def expand(chunk_ids: Sequence[int], *, team_id: int, depth: int = 1, limit: int = 20) -> list[Neighbour]:
    """The chunks holding the callers and callees of what the given chunks define, nearest first, at most
    `limit`, never one of the given chunks. Chunks the team does not own are ignored."""
    frontier = await rows.team_chunks(team_id, chunk_ids)
    seen = {c.id for c in frontier}
    out: list[Neighbour] = []
    for level in range(1, max(depth, 0) + 1):
        reached: list[tuple[Chunk, str, str]] = []
        for repo_id, chunks in _by_repository(frontier).items():
            reached.extend(await _neighbours(repo_id, chunks))
        frontier = []
        for chunk, relation, via in reached:
            if chunk.id in seen:
                continue
            seen.add(chunk.id)
            frontier.append(chunk)
            out.append(
                Neighbour(
                    chunk.id,
                    chunk.repository_id,
                    chunk.path,
                    chunk.start_line,
                    chunk.end_line,
                    chunk.text,
                    relation,
                    via,
                    level,
                )
            )
            if len(out) >= limit:
                return out
        if not frontier:
            break
    return out


def _by_repository(chunks: Sequence[Chunk]) -> dict[int, list[Chunk]]:
    grouped: dict[int, list[Chunk]] = {}
    for chunk in chunks:
        grouped.setdefault(chunk.repository_id, []).append(chunk)
    return grouped


async def _neighbours(repo_id: int, chunks: list[Chunk]) -> list[tuple[Chunk, str, str]]:
    defined: list[Symbol] = []
    for path in sorted({c.path for c in chunks}):
        in_file = [Symbol.of(s) for s in await rows.symbols_in_file(repo_id, path) if s.kind != "module"]
        for chunk in (c for c in chunks if c.path == path):
            defined.extend(s for s in in_file if _overlaps(s, chunk))
    if not defined:
        return []
    qualified = {s.qualified for s in defined}
    outgoing = await resolve(repo_id, await rows.references_from(repo_id, sorted(qualified), ("call",)))
    incoming = [
        s
        for s in await resolve(repo_id, await rows.references_named(repo_id, {d.name for d in defined}, ("call",)))
        if s.resolved is not None and s.resolved.qualified in qualified
    ]
    places = [(s.resolved.path, s.resolved.start_line, "callee", s.resolved.qualified) for s in outgoing if s.resolved]
    places += [(s.path, s.line, "caller", s.source) for s in incoming]
    files = await rows.chunks_in_files(repo_id, [p for p, _, _, _ in places])
    found: list[tuple[Chunk, str, str]] = []
    for path, line, relation, via in places:
        chunk = next((c for c in files if c.path == path and c.start_line <= line <= c.end_line), None)
        if chunk is not None:
            found.append((chunk, relation, via))
    return found


def _overlaps(symbol: Symbol, chunk: Chunk) -> bool:
    return symbol.start_line <= chunk.end_line and chunk.start_line <= symbol.end_line
