"""The review engine: diffs, packing, reviewer passes, validation; used by the PR and IDE review flows."""
