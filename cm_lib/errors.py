"""Typed errors shared by every stage: bad input, missing assets, no network."""

from __future__ import annotations


class CourseError(Exception):
    """Base class: an error a user can act on, shown by the CLI without a traceback."""

    exit_code = 2


class AbcError(CourseError, ValueError):
    """Text that is not usable ABC (e.g. no tune in it)."""


class AssetNotFoundError(CourseError, FileNotFoundError):
    """A file, folder or preset that does not exist."""


class HubUnavailableError(CourseError, ConnectionError):
    """A Hugging Face Hub asset was requested but the hub cannot be reached (offline)."""


class LicenceError(CourseError, PermissionError):
    """A data source whose terms forbid the requested use (e.g. training LLMs)."""


class UsageError(CourseError):
    """Bad arguments: an option value out of range, an --out that is a file, a folder we may not write into."""
