"""Group helpers for the CLI: where inputs come from, progress, per-input output."""

from __future__ import annotations

import glob
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from runsurge.cli import output
from runsurge.client import Job, JobStatus
from runsurge.errors import InvalidInput, InvalidRequest


def check_readable(path: Path) -> None:
    """Raise InvalidInput naming `path` unless it is a file this process can open."""
    if path.exists() and not path.is_file():
        raise InvalidInput(f"input {path} is not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InvalidInput(f"cannot read input {path}: {exc.strerror}") from None


def split_lines(source: Path, lines_per_input: int) -> Iterator[str]:
    """One input per `lines_per_input` lines of a (large) file, read lazily ('-' = stdin)."""
    stream = sys.stdin if str(source) == "-" else source.open(encoding="utf-8", newline="")
    try:
        chunk: list[str] = []
        for line in stream:
            chunk.append(line)
            if len(chunk) == lines_per_input:
                yield "".join(chunk)
                chunk = []
        if chunk:
            yield "".join(chunk)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{source} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read input {source}: {exc.strerror}") from None
    finally:
        if stream is not sys.stdin:
            stream.close()


def expand_inputs(
    paths: list[Path], inputs_dir: Path | None, inputs_glob: str | None
) -> list[Path]:
    """INPUT paths, then the files of --inputs-dir (sorted), then --inputs-glob matches.

    Every file is checked readable here, before the upload starts; a directory or a
    pattern that yields no file is an error, not an empty group.
    """
    files = list(paths)
    if inputs_dir is not None:
        if not inputs_dir.is_dir():
            raise InvalidInput(f"--inputs-dir {inputs_dir} is not a directory")
        found = sorted(p for p in inputs_dir.iterdir() if p.is_file())
        if not found:
            raise InvalidInput(f"--inputs-dir {inputs_dir} contains no files")
        files += found
    if inputs_glob is not None:
        matches = sorted(Path(p) for p in glob.glob(inputs_glob, recursive=True))
        found = [p for p in matches if p.is_file()]
        if not found:
            raise InvalidInput(f"--inputs-glob {inputs_glob!r} matches no file")
        files += found
    for path in files:
        check_readable(path)
    return files


@dataclass(frozen=True)
class InputSources:
    """Where a group's inputs come from, as given on the command line."""

    paths: list[Path]
    inputs_dir: Path | None = None
    inputs_glob: str | None = None
    split_lines: int | None = None

    @property
    def is_group(self) -> bool:
        """More than one input, or a source that yields many."""
        return len(self.paths) > 1 or bool(self.inputs_dir or self.inputs_glob or self.split_lines)

    def items(self) -> Iterable[Any]:
        """The inputs, every file checked: paths, or text chunks (lazily) for --split-lines."""
        if self.split_lines is not None:
            if len(self.paths) != 1 or self.inputs_dir or self.inputs_glob:
                raise InvalidRequest("--split-lines takes exactly one INPUT file")
            if self.split_lines < 1:
                raise InvalidRequest("--split-lines takes a positive number of lines")
            if str(self.paths[0]) != "-":
                check_readable(self.paths[0])
            return split_lines(self.paths[0], self.split_lines)
        return expand_inputs(self.paths, self.inputs_dir, self.inputs_glob)


class _RateColumn(ProgressColumn):
    """Finished inputs per second since the bar started."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.1f}/s", style="progress.data.speed")


def counted(items: Iterable[Any], progress: Progress, label: str) -> Iterator[Any]:
    """Pass items through while a spinner counts them (uploading a big group)."""
    task = progress.add_task(label, total=None)
    for n, item in enumerate(items, start=1):
        yield item
        progress.update(task, completed=n, description=f"{label} {n:,}")
    progress.remove_task(task)


def upload_progress() -> Progress:
    """A spinner for the upload phase."""
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=output.err, transient=True,
    )  # fmt: skip


def wait_with_progress(job: Job) -> JobStatus:
    """Wait for a group while a bar shows done / failed / running / queued, rate and ETA."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed[/] [cyan]{task.fields[running]} running[/] "
                   "[blue]{task.fields[queued]} queued[/]"),
        _RateColumn(),
        TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=output.err, transient=False) as progress:
        bar = progress.add_task(f"job {job.id}", total=None, failed=0, running=0, queued=0)

        def update(status: JobStatus) -> None:
            t = status.tasks
            progress.update(
                bar,
                total=t.total,
                completed=t.succeeded + t.failed + t.cancelled,
                failed=t.failed,
                running=t.running,
                queued=t.queued,
                description=f"job {job.id} {status.state.lower()}",
            )

        return job.wait(on_update=update)


def write_per_input(job: Job, destination: Path | None, follow: bool = False) -> int:
    """Every input's outcome as JSON lines (stdout or a file); return how many failed.

    In input order; with `follow`, each line as soon as its input is final, in the
    order they finish (flushed at once, for a reader at the other end of a pipe).
    """
    failed = 0
    stream = destination.open("w", encoding="utf-8") if destination else sys.stdout
    try:
        for item in job.as_completed() if follow else job.results():
            failed += 0 if item.ok else 1
            stream.write(json.dumps(item.to_json(), sort_keys=True) + "\n")
            if follow:
                stream.flush()
    finally:
        if destination is not None:
            stream.close()
    return failed


def report_failures(status: JobStatus) -> None:
    """A one-line note on stderr when a finished group had failing inputs."""
    t = status.tasks
    if status.kind == "group" and t.failed:
        output.err.print(
            f"[yellow]{t.failed} of {t.total} inputs failed; see them with "
            f"`runsurge result {status.id} --per-input`[/]"
        )
