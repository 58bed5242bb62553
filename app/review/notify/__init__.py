"""What the pull-request review tells a team outside the pull request: a Slack notice when a review finishes,
a daily digest of stale pull requests, and a weekly report of what the reviews did."""
