"""Rich text of Jira and Confluence as Markdown, and Markdown as their formats.

Jira Cloud (REST v3) speaks ADF JSON, Jira Data Center (REST v2) wiki markup, Confluence the storage format
(XHTML with macros). Readers give Markdown-ish text a person or a model reads well; writers give the minimal
markup each service accepts for what Adjutant writes (paragraphs, headings, lists, code, links, tables).
"""

from app.integrations.atlassian_text.adf import adf_to_markdown, markdown_to_adf
from app.integrations.atlassian_text.storage import storage_to_markdown
from app.integrations.atlassian_text.storage_writer import markdown_to_storage
from app.integrations.atlassian_text.wiki import markdown_to_wiki, wiki_to_markdown

__all__ = [
    "adf_to_markdown",
    "markdown_to_adf",
    "markdown_to_storage",
    "markdown_to_wiki",
    "storage_to_markdown",
    "wiki_to_markdown",
]
