"""The one exception type that the command line turns into a clean one-line message.

Raise :class:`DerainError` for anything a user can fix (a missing file, a bad option, a
corrupt video). ``derain.cli`` prints ``derain: error: <message>`` on stderr and exits with 2;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class DerainError(Exception):
    """A user-facing error: the message is one line that says what is wrong and what to do."""
