"""newsmon's exceptions. Each message names the input that was wrong and, where it helps, what to do;
the command line prints it as one line on stderr and exits with status 2."""
from __future__ import annotations


class NewsmonError(Exception):
    """Base of every error newsmon reports to its user."""


class BadInput(NewsmonError):
    """A command-line argument, option or config value is not usable."""


class DatabaseError(NewsmonError):
    """The database cannot be opened, is not newsmon's, or is newer than this version of newsmon."""


class NotFound(NewsmonError):
    """An article or version asked for is not in the database."""
