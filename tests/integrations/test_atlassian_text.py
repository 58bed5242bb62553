"""Jira and Confluence rich text as Markdown (ADF, wiki markup, storage format) and Markdown back into each,
on samples shaped like what the services really hold."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from app.integrations.atlassian_text import (
    adf_to_markdown,
    markdown_to_adf,
    markdown_to_storage,
    markdown_to_wiki,
    storage_to_markdown,
    wiki_to_markdown,
)
from app.integrations.jira_issue import criteria_from_field, criteria_from_text


def text(value: str, *marks: dict) -> dict:
    node: dict = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


def paragraph(*content: dict) -> dict:
    return {"type": "paragraph", "content": list(content)}


def item(*content: dict) -> dict:
    return {"type": "listItem", "content": list(content)}


JIRA_CLOUD_DESCRIPTION = {
    "type": "doc",
    "version": 1,
    "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [text("Context")]},
        paragraph(
            text("Login fails for "),
            text("SSO users", {"type": "strong"}),
            text(" when "),
            text("redirect_uri", {"type": "code"}),
            text(" has a trailing slash. See "),
            text("the RFC", {"type": "link", "attrs": {"href": "https://www.rfc-editor.org/rfc/rfc6749"}}),
            text(". cc "),
            {"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d4ef5", "text": "@Ada Lovelace"}},
            text(" "),
            {"type": "emoji", "attrs": {"shortName": ":warning:", "text": "⚠️"}},
        ),
        {
            "type": "bulletList",
            "content": [
                item(paragraph(text("Chrome")), {"type": "bulletList", "content": [item(paragraph(text("v120+")))]}),
                item(paragraph(text("Firefox"))),
            ],
        },
        {
            "type": "codeBlock",
            "attrs": {"language": "python"},
            "content": [text("if uri.endswith('/'):\n    uri = uri[:-1]")],
        },
        {"type": "panel", "attrs": {"panelType": "warning"}, "content": [paragraph(text("Affects production."))]},
        {"type": "heading", "attrs": {"level": 3}, "content": [text("Acceptance criteria")]},
        {
            "type": "taskList",
            "attrs": {"localId": "a1"},
            "content": [
                {"type": "taskItem", "attrs": {"localId": "b1", "state": "TODO"}, "content": [text("Slash ignored")]},
                {"type": "taskItem", "attrs": {"localId": "c1", "state": "DONE"}, "content": [text("Test added")]},
            ],
        },
        {
            "type": "table",
            "attrs": {"isNumberColumnEnabled": False, "layout": "default"},
            "content": [
                {
                    "type": "tableRow",
                    "content": [
                        {"type": "tableHeader", "content": [paragraph(text("Env"))]},
                        {"type": "tableHeader", "content": [paragraph(text("Status"))]},
                    ],
                },
                {
                    "type": "tableRow",
                    "content": [
                        {"type": "tableCell", "content": [paragraph(text("prod | eu"))]},
                        {"type": "tableCell", "content": [paragraph({"type": "status", "attrs": {"text": "BROKEN"}})]},
                    ],
                },
            ],
        },
        {
            "type": "mediaSingle",
            "attrs": {"layout": "center"},
            "content": [
                {"type": "media", "attrs": {"id": "9f2", "type": "file", "collection": "c", "alt": "shot.png"}}
            ],
        },
        paragraph(
            text("line one"),
            {"type": "hardBreak"},
            text("see "),
            {"type": "inlineCard", "attrs": {"url": "https://acme.atlassian.net/browse/ENG-2"}},
            text(" by "),
            {"type": "date", "attrs": {"timestamp": "1717200000000"}},
        ),
    ],
}


def test_adf_description_reads_as_markdown():
    assert adf_to_markdown(JIRA_CLOUD_DESCRIPTION) == (
        "## Context\n\n"
        "Login fails for **SSO users** when `redirect_uri` has a trailing slash. "
        "See [the RFC](https://www.rfc-editor.org/rfc/rfc6749). cc @Ada Lovelace ⚠️\n\n"
        "- Chrome\n  - v120+\n- Firefox\n\n"
        "```python\nif uri.endswith('/'):\n    uri = uri[:-1]\n```\n\n"
        "> **Warning:** Affects production.\n\n"
        "### Acceptance criteria\n\n"
        "- [ ] Slash ignored\n- [x] Test added\n\n"
        "| Env | Status |\n|---|---|\n| prod \\| eu | [BROKEN] |\n\n"
        "[attachment: shot.png]\n\n"
        "line one\nsee https://acme.atlassian.net/browse/ENG-2 by 2024-06-01"
    )


def test_adf_unknown_nodes_keep_their_text_and_deep_nesting_is_bounded():
    unknown = {"type": "doc", "content": [{"type": "futureBlock", "content": [paragraph(text("still here"))]}]}
    assert adf_to_markdown(unknown) == "still here"
    deep: dict = paragraph(text("bottom"))
    for _ in range(3000):  # deeper than Python's recursion limit
        deep = {"type": "blockquote", "content": [deep]}
    assert "bottom" in adf_to_markdown({"type": "doc", "content": [deep]})
    assert adf_to_markdown(None) == "" and adf_to_markdown("plain") == "plain"


JIRA_DC_DESCRIPTION = """h2. Steps
# Open {{/login}}
# Click *Sign in* with _SSO_
## the nested step
* a bullet with [the docs|https://example.com/docs], [ENG-2] and [~jsmith]
{code:java}
String s = "a*b*c_d_";
{code}
||Env||Status||
|prod|-broken-|
{quote}
quoted text
{quote}
{info:title=Heads up}
Deploy freezes on Friday.
{info}
!screenshot.png|thumbnail!
----
h3. Acceptance Criteria
* Works with a trailing slash
* Has a test"""


def test_wiki_markup_reads_as_markdown():
    assert wiki_to_markdown(JIRA_DC_DESCRIPTION) == (
        "## Steps\n\n"
        "1. Open `/login`\n"
        "2. Click **Sign in** with *SSO*\n"
        "   1. the nested step\n"
        "- a bullet with [the docs](https://example.com/docs), ENG-2 and @jsmith\n\n"
        '```java\nString s = "a*b*c_d_";\n```\n\n'
        "| Env | Status |\n|---|---|\n| prod | ~~broken~~ |\n\n"
        "> quoted text\n\n"
        "> **Heads up:**\n> Deploy freezes on Friday.\n\n"
        "[image: screenshot.png]\n\n"
        "---\n\n"
        "### Acceptance Criteria\n\n"
        "- Works with a trailing slash\n- Has a test"
    )


def test_wiki_links_to_unsafe_targets_stay_text():
    assert wiki_to_markdown("[click|javascript:alert(1)] and [file|^report.pdf]") == "click and file"


CONFLUENCE_PAGE = (
    "<h1>Deploy guide</h1>"
    "<p>Run the <strong>deploy</strong> script&nbsp;as <code>ops</code>. See "
    '<a href="https://example.com/runbook">the runbook</a> and <ac:link><ri:page ri:content-title="Rollback" '
    'ri:space-key="ENG" /><ac:plain-text-link-body><![CDATA[how to roll back]]></ac:plain-text-link-body></ac:link>. '
    'Owner: <ac:link><ri:user ri:account-id="557058:abc" /></ac:link> '
    '<ac:structured-macro ac:name="status" ac:schema-version="1"><ac:parameter ac:name="colour">Green</ac:parameter>'
    '<ac:parameter ac:name="title">STABLE</ac:parameter></ac:structured-macro></p>\n'
    '<ac:structured-macro ac:name="code" ac:schema-version="1" ac:macro-id="d3b"><ac:parameter ac:name="language">'
    'bash</ac:parameter><ac:parameter ac:name="title">deploy</ac:parameter><ac:plain-text-body><![CDATA[if [ "$ENV" '
    '== "prod" ] && [ -f x ]; then\n  ./deploy.sh <release>\nfi]]></ac:plain-text-body></ac:structured-macro>\n'
    "<ul><li>Step one<ul><li>sub a</li></ul></li><li><p>Step two</p></li></ul>\n"
    "<ol><li>First</li><li>Second</li></ol>\n"
    '<ac:structured-macro ac:name="warning"><ac:parameter ac:name="title">Careful</ac:parameter><ac:rich-text-body>'
    "<p>Freeze on Fridays.</p></ac:rich-text-body></ac:structured-macro>\n"
    "<table><tbody><tr><th><p>Service</p></th><th><p>Port</p></th></tr><tr><td><p>api</p></td><td><p>8080</p></td>"
    "</tr></tbody></table>\n"
    "<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Check "
    "dashboards</ac:task-body></ac:task><ac:task><ac:task-id>2</ac:task-id><ac:task-status>complete</ac:task-status>"
    "<ac:task-body>Notify #ops</ac:task-body></ac:task></ac:task-list>\n"
    '<p><ac:image ac:alt="diagram"><ri:attachment ri:filename="arch.png" /></ac:image> <ac:emoticon ac:name="tick" />'
    ' tracked in <ac:structured-macro ac:name="jira"><ac:parameter ac:name="server">System JIRA</ac:parameter>'
    '<ac:parameter ac:name="key">ENG-42</ac:parameter></ac:structured-macro></p>\n'
    '<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">Old notes</ac:parameter><ac:rich-text-body>'
    "<p>v1 used rsync.</p></ac:rich-text-body></ac:structured-macro>"
    '<ac:structured-macro ac:name="toc" />'
)


def test_storage_format_reads_as_markdown():
    assert storage_to_markdown(CONFLUENCE_PAGE) == (
        "# Deploy guide\n\n"
        "Run the **deploy** script as `ops`. See [the runbook](https://example.com/runbook) and how to roll back "
        "(page: Rollback). Owner: @557058:abc [STABLE]\n\n"
        '```bash\nif [ "$ENV" == "prod" ] && [ -f x ]; then\n  ./deploy.sh <release>\nfi\n```\n\n'
        "- Step one\n  - sub a\n- Step two\n\n"
        "1. First\n2. Second\n\n"
        "> **Careful:** Freeze on Fridays.\n\n"
        "| Service | Port |\n|---|---|\n| api | 8080 |\n\n"
        "- [ ] Check dashboards\n- [x] Notify #ops\n\n"
        "[image: diagram] ✅ tracked in ENG-42\n\n"
        "**Old notes**\n\nv1 used rsync."
    )


def test_storage_tolerates_unclosed_tags_and_empty_bodies():
    assert storage_to_markdown("<p>one<p>two</p><br>") == "one\n\ntwo"
    assert storage_to_markdown("") == "" and storage_to_markdown(None) == ""


WRITTEN = """# Rollout

Some *care* and **bold** & <tags> with `code`, [a link](https://x.test/?a=1&b=2) and [bad](javascript:alert(1)).

- one
- two
  - nested

1. first
2. second

- [ ] todo
- [x] done

```python
print("]]>")
```

> quoted

| a | b |
|---|---|
| 1 | 2 |"""


def test_markdown_becomes_well_formed_storage_with_the_code_macro():
    storage = markdown_to_storage(WRITTEN)
    root = ET.fromstring(  # noqa: S314 - our own output
        f'<r xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource">{storage}</r>'
    )
    assert root[0].tag == "h1" and root[0].text == "Rollout"
    assert "&amp; &lt;tags&gt;" in storage and 'href="https://x.test/?a=1&amp;b=2"' in storage
    assert "javascript:" not in storage  # an unsafe link keeps its text only
    assert "<ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul>" in storage
    assert "<ac:task-status>complete</ac:task-status><ac:task-body>done</ac:task-body>" in storage
    assert '<ac:parameter ac:name="language">python</ac:parameter>' in storage
    assert '<![CDATA[print("]]]]><![CDATA[>")]]>' in storage  # the CDATA end inside the code is split


def test_markdown_survives_storage_and_back():
    expected = WRITTEN.replace(" and [bad](javascript:alert(1))", " and bad")
    assert storage_to_markdown(markdown_to_storage(WRITTEN)) == expected.replace(
        "- two\n  - nested\n\n1.", "- two\n  - nested\n\n1."
    )


def test_markdown_becomes_adf_jira_cloud_accepts():
    document = markdown_to_adf(WRITTEN)
    assert document["type"] == "doc" and document["version"] == 1
    kinds = [node["type"] for node in document["content"]]
    assert kinds == [
        "heading",
        "paragraph",
        "bulletList",
        "orderedList",
        "taskList",
        "codeBlock",
        "blockquote",
        "table",
    ]
    inline = document["content"][1]["content"]
    assert {"type": "text", "text": "code", "marks": [{"type": "code"}]} in inline
    assert {
        "type": "text",
        "text": "a link",
        "marks": [{"type": "link", "attrs": {"href": "https://x.test/?a=1&b=2"}}],
    } in inline

    def texts(node):
        if node.get("type") == "text":
            yield node
        for child in node.get("content", []):
            yield from texts(child)

    assert all(t["text"] for t in texts(document))  # ADF refuses empty text nodes
    assert document["content"][4]["content"][1]["attrs"]["state"] == "DONE"
    assert adf_to_markdown(document) == storage_to_markdown(markdown_to_storage(WRITTEN))


def test_markdown_becomes_wiki_markup_for_data_center():
    assert markdown_to_wiki(WRITTEN) == (
        "h1. Rollout\n\n"
        "Some _care_ and *bold* & <tags> with {{code}}, [a link|https://x.test/?a=1&b=2] and bad.\n\n"
        "* one\n* two\n** nested\n\n"
        "# first\n# second\n\n"
        "* (x) todo\n* (/) done\n\n"
        '{code:python}\nprint("]]>")\n{code}\n\n'
        "{quote}\nquoted\n{quote}\n\n"
        "||a||b||\n|1|2|"
    )
    assert wiki_to_markdown(markdown_to_wiki("1. open **Admin**\n2. run `init`")) == "1. open **Admin**\n2. run `init`"


# --- acceptance criteria --------------------------------------------------------------------------------------


def test_criteria_are_the_items_under_the_heading_until_the_next_one():
    description = (
        "Intro.\n\n### Acceptance Criteria\n\n- Given a user\n- When they log in\n  with SSO\n\n## Notes\n\n- not this"
    )
    assert criteria_from_text(description) == ["Given a user", "When they log in with SSO"]


def test_criteria_under_an_ac_label_and_in_bold_headings():
    assert criteria_from_text("AC: the export is a CSV\n1. has a header row\n2. UTF-8") == [
        "the export is a CSV",
        "has a header row",
        "UTF-8",
    ]
    assert criteria_from_text("**Acceptance criteria:**\n* fast\n* safe") == ["fast", "safe"]
    assert criteria_from_text("## AC\n- one") == ["one"]
    assert criteria_from_text("## ACME rollout\n- not criteria") == []


def test_criteria_fall_back_to_checklist_items_and_otherwise_are_empty():
    assert criteria_from_text("Do this.\n\n- [ ] first\n- [x] second\n- plain item") == ["first", "second"]
    assert criteria_from_text("Just a story without criteria.\n\n- a list") == []


def test_a_criteria_field_is_every_item_or_line_of_it():
    assert criteria_from_field("- Works for Okta\n- Works for Azure AD") == ["Works for Okta", "Works for Azure AD"]
    assert criteria_from_field("Exports finish in 5 s\nErrors are shown") == [
        "Exports finish in 5 s",
        "Errors are shown",
    ]
