"""What a person at a terminal sees: one line per stage, bars on long work.

The CLI (`pdpb run`, `pdpb demo`, `make backfill`) opens a console on the
terminal; stages report to it (`stage_done`) and long loops wrap their work
in `progress`. Without an open console (an Airflow worker, a test calling a
stage) both are silent, and the stages' own log lines go wherever logging
goes. While the embedded Airflow runs a DAG, its own output (task runner
lines, Airflow's logs, dbt's) is sent to a log file under the home
(`airflow_output`); the console keeps writing to the terminal. Verbosity:
`-q` shows errors only, the default one line per stage, `-v` everything,
Airflow's output included.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TypeVar

T = TypeVar("T")

QUIET, NORMAL, VERBOSE = 0, 1, 2

_stream: IO[str] | None = None
_level = NORMAL
_marker = ""
_airflow_depth = 0  # > 0 while the embedded Airflow runs a DAG in this process


def open_console(level: int = NORMAL, stream: IO[str] | None = None) -> None:
    """Report to `stream` (default: this process's stderr, duplicated so that
    a later redirection of the file descriptors does not swallow it)."""
    global _stream, _level
    _level = level
    if stream is None:
        try:
            stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8")
        except (AttributeError, OSError, ValueError):  # stderr is not a file (a test's capture)
            stream = sys.stderr
    _stream = stream


def close_console() -> None:
    global _stream, _marker
    if _stream is not None and _stream not in (sys.stderr, sys.stdout):
        with contextlib.suppress(OSError):
            _stream.close()
    _stream, _marker = None, ""


def level() -> int:
    return _level if _stream is not None else QUIET


def say(line: str) -> None:
    """One line for the person at the terminal (nothing when quiet or closed)."""
    if _stream is not None and _level >= NORMAL:
        print(line, file=_stream, flush=True)


@contextlib.contextmanager
def period_marker(period: str, index: int, total: int) -> Iterator[None]:
    """Stage lines name the period and where it is in the run: `2026-02 2/3`."""
    global _marker
    before, _marker = _marker, f"{period} {index}/{total}"
    try:
        yield
    finally:
        _marker = before


def _gate_counts(result: dict) -> str:
    """A quality gate's summary: rows checked, expectations met, warnings."""
    checks = [s for s in result["statistics"].values() if isinstance(s, dict)]
    rows = sum(s.get("rows", 0) or 0 for s in checks)
    met = sum(s.get("successful_expectations", 0) or 0 for s in checks)
    total = sum(s.get("evaluated_expectations", 0) or 0 for s in checks)
    return f"rows {rows:,}, expectations {met}/{total}, warnings {len(result['warnings'])}"


def _counts(result: object, limit: int = 5) -> str:
    if not isinstance(result, dict):
        return ""
    if isinstance(result.get("statistics"), dict) and isinstance(result.get("warnings"), list):
        return _gate_counts(result)
    if result and all(isinstance(value, Path) for value in result.values()):
        return f"files {len(result)}"  # publish: every path it wrote
    shown = [
        f"{key} {value:,}"
        for key, value in result.items()
        if isinstance(value, int) and not isinstance(value, bool)
    ]
    return ", ".join(shown[:limit])


def stage_done(period: str, stage: str, seconds: float, result: object) -> None:
    """`[2026-02 2/3] link        4.1 s  events 812, LINK 640, NEW 150`."""
    say(f"[{_marker or period}] {stage:<12} {seconds:6.1f} s  {_counts(result)}".rstrip())


def period_line(period: str, text: str) -> None:
    """A line about a period, under the same marker as its stage lines."""
    say(f"[{_marker or period}] {text}")


def progress(items: Iterable[T], total: int | None = None, what: str = "") -> Iterable[T]:
    """`items` with a progress bar on an interactive console; the items
    themselves everywhere else: an Airflow task (a worker has no console; the
    embedded runner's tasks run inside `airflow_output`), pipes, tests, `-q`."""
    if _stream is None or _level < NORMAL or _airflow_depth or not _stream.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=what, file=_stream, leave=False, unit="")


@contextlib.contextmanager
def airflow_output(log_path: Path) -> Iterator[Path]:
    """While Airflow runs in this process: no progress bars (its tasks' stages
    run here), and everything written to this process's stdout and stderr
    (Airflow's task runner and logs, dbt, GX) goes to `log_path`, unless the
    console is verbose; the console itself keeps the terminal."""
    global _airflow_depth
    _airflow_depth += 1
    try:
        with _redirected(log_path):
            yield log_path
    finally:
        _airflow_depth -= 1


@contextlib.contextmanager
def _redirected(log_path: Path) -> Iterator[None]:
    if level() >= VERBOSE or _stream is None or _stream is sys.stderr:
        yield
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} =====\n")
        handle.flush()
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def shown(path: Path) -> str:
    """A path as typed from the current folder: relative below it, else absolute."""
    path = Path(path).resolve()
    cwd = Path.cwd().resolve()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)
