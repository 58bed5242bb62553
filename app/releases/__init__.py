"""Release notes: extract a range's history, clean and classify it, render internal and external notes,
optionally polish them with a model under checks, and approve and publish them (docs/release-notes.md)."""
