"""`python -m runsurge` is the `runsurge` command."""

from runsurge.cli.main import main

main()
