"""Posts.xml: questions and their accepted and top answers become Q&A items with the dump's facts and CC BY-SA
credit; filters apply; rows are cleared as they are read, so the parse holds one row at a time."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

from app.knowledge.dump import DumpFilter, PostsReader, dump_items, parse_tags
from tests.knowledge.conftest import engine, ingest, make_source


def row(**attributes: object) -> str:
    return "  <row " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in attributes.items()) + " />\n"


def posts_xml(questions: int = 3, filler: int = 0) -> bytes:
    """Question 1 (python, accepted answer 3, a low-score answer 4, a good answer 5), question 2 (java, old
    tag syntax), then `filler` unrelated questions with an answer each."""
    rows = [
        row(
            Id=1,
            PostTypeId=1,
            AcceptedAnswerId=3,
            CreationDate="2019-03-01T10:00:00.000",
            Score=25,
            Title="How do I reverse a list in Python?",
            Tags="|python|list|",
            Body="<p>I have <code>xs = [1, 2, 3]</code> and want it backwards.</p>",
            OwnerUserId=7,
        ),
        row(
            Id=2,
            PostTypeId=1,
            CreationDate="2010-05-01T10:00:00.000",
            Score=9,
            Title="Convert a String to an int in Java",
            Tags="<java><string>",
            Body="<p>How?</p>",
        ),
        row(
            Id=3,
            PostTypeId=2,
            ParentId=1,
            CreationDate="2019-03-01T11:00:00.000",
            Score=40,
            OwnerUserId=8,
            Body='<p>Use slicing:</p><pre class="lang-py"><code>reversed_list = xs[::-1]\nprint(reversed_list)</code></pre>',
        ),
        row(
            Id=4,
            PostTypeId=2,
            ParentId=1,
            CreationDate="2019-03-02T11:00:00.000",
            Score=0,
            OwnerUserId=9,
            Body="<p>Write a loop.</p>",
        ),
        row(
            Id=5,
            PostTypeId=2,
            ParentId=1,
            CreationDate="2019-03-03T11:00:00.000",
            Score=12,
            OwnerDisplayName="gone",
            Body="<p>Or <code>xs.reverse()</code> in place.</p>",
        ),
        row(
            Id=6,
            PostTypeId=2,
            ParentId=2,
            CreationDate="2010-05-02T11:00:00.000",
            Score=30,
            OwnerUserId=10,
            Body="<pre><code>int n = Integer.parseInt(text);</code></pre>",
        ),
        row(Id=7, PostTypeId=5, Body="a tag wiki"),
    ]
    for n in range(filler):
        qid, aid = 1000 + 2 * n, 1001 + 2 * n
        rows.append(
            row(
                Id=qid,
                PostTypeId=1,
                Score=1,
                Title=f"Filler {n}",
                Tags="|cobol|",
                Body="<p>x</p>",
                CreationDate="2020-01-01T00:00:00.000",
            )
        )
        rows.append(
            row(Id=aid, PostTypeId=2, ParentId=qid, Score=5, Body="<p>y</p>", CreationDate="2020-01-01T00:00:00.000")
        )
    return ('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "".join(rows) + "</posts>\n").encode()


def test_tags_in_both_dump_syntaxes():
    assert parse_tags("<python><asyncio>") == ["python", "asyncio"]
    assert parse_tags("|c#|.net|") == ["c#", ".net"]
    assert parse_tags(None) == []


def test_accepted_and_good_answers_become_items_with_credit():
    items = list(PostsReader(io.BytesIO(posts_xml())).items())
    assert [i.external_id for i in items] == ["q1/a3", "q1/a5", "q2/a6"]
    accepted = items[0]
    assert accepted.title == "How do I reverse a list in Python?"
    assert (
        accepted.meta["accepted"] is True
        and accepted.meta["score"] == 40
        and accepted.meta["tags"] == ["python", "list"]
    )
    assert "backwards" in accepted.meta["question_text"]
    assert "```python\nreversed_list = xs[::-1]" in accepted.text
    assert accepted.url == "https://stackoverflow.com/a/3"
    assert accepted.attribution["licence"] == "CC BY-SA 4.0"
    assert accepted.attribution["author_url"] == "https://stackoverflow.com/users/8"
    assert items[1].meta["accepted"] is False and items[1].attribution["author"] == "gone"
    java = items[2]
    assert java.attribution["licence"] == "CC BY-SA 2.5"  # posted before April 2011
    assert java.language_hint == "java" and java.meta["tags"] == ["java", "string"]


def test_filters_select_questions_and_cap_answers():
    only_python = DumpFilter(tags=frozenset({"python"}), answers_per_question=1)
    items = list(PostsReader(io.BytesIO(posts_xml()), only_python).items())
    # The accepted answer always counts; no room is left for answer 5.
    assert [i.external_id for i in items] == ["q1/a3"]
    recent = DumpFilter(from_date=datetime(2015, 1, 1), min_score=10)
    assert [i.external_id for i in PostsReader(io.BytesIO(posts_xml()), recent).items()] == ["q1/a3", "q1/a5"]


def test_every_row_is_cleared_as_it_is_read():
    small = PostsReader(io.BytesIO(posts_xml(filler=200)))
    assert sum(1 for _ in small.items()) == 3 + 200
    large = PostsReader(io.BytesIO(posts_xml(filler=20_000)))
    assert sum(1 for _ in large.items()) == 3 + 20_000
    assert large.rows == 7 + 40_000
    # The tree holds only the rows of the parser's read-ahead buffer, whatever the file's size.
    assert large.retained_max <= max(small.retained_max, 1) * 2 < 1000


async def test_a_dump_file_imports_and_searches_with_code_chunks(db, counting_embedder, tmp_path: Path):
    path = tmp_path / "Posts.xml"
    path.write_bytes(posts_xml())
    source = await make_source("core", "so-dump", kind="dump")
    items = dump_items(path, DumpFilter(), site_url="https://stackoverflow.com", site_name="Stack Overflow")
    run = await ingest(source, [i async for i in items], counting_embedder)
    assert run.created == 3
    hits = await engine(counting_embedder).search(source.team_id, "reverse a python list", kinds=["qa_code"])
    assert hits[0].text.startswith("reversed_list = xs[::-1]") and hits[0].language == "python"
    java = await engine(counting_embedder).search(source.team_id, "parseInt string to int", kinds=["qa_code"])
    assert java[0].language == "java"  # no class on the block: the question's tag says it
