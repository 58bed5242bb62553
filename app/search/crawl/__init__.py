"""Crawling a team's SCM connection: list its repositories, filter them, index the ones that changed."""
