"""`python -m barstore.cli`: the same as the `barstore` command."""

from . import app

app()
