"""A repository's GitHub Discussions as Q&A: each discussion with its chosen answer (or, when asked for, without
one), credited to the answer's author with a link."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.integrations.connection import ConnectionInfo
from app.integrations.github import GitHubClient
from app.integrations.runtime import IntegrationRuntime
from app.knowledge.items import KnowledgeItem
from app.knowledge.specs import DiscussionsSpec


async def discussion_items(
    connection: ConnectionInfo, runtime: IntegrationRuntime, spec: DiscussionsSpec
) -> AsyncIterator[KnowledgeItem]:
    client = GitHubClient(connection, runtime)
    try:
        found = await client.discussions(spec.repo, answered_only=spec.answered_only, limit=spec.max_discussions)
    finally:
        await client.aclose()
    for discussion in found:
        answer = discussion.answer
        tags = [t for t in [discussion.category, *discussion.labels] if t]
        author = answer.author if answer else discussion.author
        link = (answer.url if answer else None) or discussion.url
        yield KnowledgeItem(
            external_id=f"discussion/{discussion.number}",
            kind="qa",
            title=discussion.title,
            text=answer.body if answer else discussion.body,
            url=link,
            meta={
                "question": discussion.title,
                "question_text": discussion.body[:1500] if answer else "",
                "question_id": discussion.number,
                "score": answer.upvotes if answer else discussion.upvotes,
                "accepted": answer is not None,
                "tags": tags,
                "question_url": discussion.url,
            },
            attribution={
                "licence": None,
                "author": author,
                "author_url": answer.author_url if answer else None,
                "link": link,
                "text": f"{'Answer' if answer else 'Discussion'} by {author or 'a GitHub user'} in "
                f"{spec.repo} Discussions: {link}",
            },
        )
