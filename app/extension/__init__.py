"""What the VS Code extension and its local binary keep on the server besides chats: terminal settings, the
profile panel, saved URLs and URL summaries (docs/extension.md)."""
