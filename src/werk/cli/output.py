"""Where the CLI writes: one console for results, one for errors, and how a command fails."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

# soft_wrap: URLs and tokens must stay on one line to be copied, whatever the terminal width.
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` as an error and give the exit to raise. The message is escaped: an
    install hint such as ``pip install 'werk[mqtt]'`` is text, not rich markup."""
    errors.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)
