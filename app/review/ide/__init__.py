"""The extension's IDE review (docs/review-protocol.md): agents, pre-process, agent runs over the review socket,
post-process, comments and history, on the shared review engine."""
