"""Release notes from a local repository: extract → clean → classify → breaking / documentation / contributors
→ render both variants → optionally polish the external one. The CLI and the job both call `generate`.

No stage needs a model: `ask` (app.releases.model) only classifies what no rule could and polishes prose, and
every use of it is recorded in the result (`generator`, `model`, `polish_reason`, `classified_by`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from app.releases import classify as classifying
from app.releases.changes import Commit, ReleaseFacts
from app.releases.clean import clean
from app.releases.contributors import contributors
from app.releases.documentation import mark_documentation
from app.releases.extract import read_commits, resolve_range, web_url
from app.releases.git import GitRepository
from app.releases.polish import polish
from app.releases.render import linkify, render
from app.releases.rules import ReleaseRules, load_rules

Ask = Callable[[str], Awaitable[str]]
# Adds what an SCM connection knows (labels, logins) to commits that name a pull request.
Enrich = Callable[[list[Commit]], Awaitable[None]]


@dataclass
class RangeRequest:
    from_ref: str | None = None  # None: since the last release
    to_ref: str = "HEAD"
    path: str | None = None
    tag_pattern: str | None = None
    version: str | None = None


@dataclass
class ModelUse:
    """The model passes allowed for one run; `ask` None runs without a model."""

    ask: Ask | None = None
    name: str | None = None
    classify: bool = True
    polish: bool = True
    examples: Sequence[str] = field(default_factory=tuple)


@dataclass
class ReleaseNotes:
    facts: ReleaseFacts
    internal: str
    external: str
    generator: str  # "deterministic" or "model" (the external text is the model's accepted rewrite)
    model: str | None  # the model asked, if any
    polish_reason: str | None  # why a rewrite was not kept (None when kept or not attempted)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.facts.range.version,
            "internal": self.internal,
            "external": self.external,
            "generator": self.generator,
            "model": self.model,
            "polish_reason": self.polish_reason,
            "facts": self.facts.to_json(),
        }


async def read_rules(repo: GitRepository, ref: str) -> ReleaseRules:
    """The `.adjutant.toml` committed at `ref` (defaults when it has none)."""
    text = await repo.try_run("show", f"{await repo.commit_of(ref)}:.adjutant.toml")
    return load_rules(text)


async def collect_facts(
    repo: GitRepository,
    request: RangeRequest,
    *,
    name: str,
    ask: Ask | None = None,
    enrich: Enrich | None = None,
) -> ReleaseFacts:
    """The facts of the range: every kept change classified and flagged, what was left out, contributors."""
    await repo.check()
    rules = await read_rules(repo, request.to_ref)
    release = await resolve_range(
        repo,
        from_ref=request.from_ref,
        to_ref=request.to_ref,
        tag_pattern=request.tag_pattern or rules.tag_pattern,
        version=request.version,
        path=request.path,
    )
    commits, seen = await read_commits(repo, release)
    if enrich is not None and any(c.pr is not None for c in commits):
        await enrich(commits)
    kept, dropped = clean(commits, rules)
    changes = await classifying.classify(kept, rules, ask=ask)
    await mark_documentation(repo, changes)
    people = await contributors(repo, release, changes)
    date = (await repo.run("show", "-s", "--format=%cI", release.to_sha)).strip() or None
    return ReleaseFacts(
        range=release,
        changes=changes,
        dropped=dropped,
        contributors=people,
        commits_seen=seen,
        repository=name,
        web_url=await web_url(repo),
        date=date,
    )


async def write_notes(facts: ReleaseFacts, model: ModelUse | None = None) -> ReleaseNotes:
    """Both variants; the external one rewritten by the model when allowed and the rewrite checks out."""
    internal = linkify(render(facts, "internal"), facts)
    external = render(facts, "external")
    generator, reason = "deterministic", None
    if model is not None and model.ask is not None and model.polish:
        polished = await polish(facts, external, model.ask, examples=model.examples)
        external, reason = polished.text, polished.reason
        generator = "model" if polished.accepted else "deterministic"
    used = model.name if model is not None and model.ask is not None else None
    return ReleaseNotes(facts, internal, linkify(external, facts), generator, used, reason)


async def generate(
    repo: GitRepository,
    request: RangeRequest,
    *,
    name: str,
    model: ModelUse | None = None,
    enrich: Enrich | None = None,
) -> ReleaseNotes:
    ask = model.ask if model is not None and model.classify else None
    facts = await collect_facts(repo, request, name=name, ask=ask, enrich=enrich)
    return await write_notes(facts, model)
