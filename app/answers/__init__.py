"""Grounded answers: one retrieval over the team's code (and knowledge, where a source for it is wired), fused
into a cited context, answered by a model whose citations are checked against what it was shown."""
