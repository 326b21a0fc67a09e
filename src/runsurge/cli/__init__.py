"""The `runsurge` command line: Typer commands with Rich output, thin over the SDK and roles."""
