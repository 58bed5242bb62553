"""Pull-request review: from a webhook (or `adjutant review REPO NUMBER`) to anchored comments, one summary
edited in place, labels and approvals on GitHub, GitLab and Bitbucket (docs/review.md, "Pull request review")."""
