"""``python -m werk`` runs the CLI."""

from werk.cli import app

app()
