"""The one exception type for problems a user can fix (bad config, missing data).

The CLI and the flow entry points print its message and exit with code 2, without a
traceback: the message itself must name the key or path at fault.
"""


class NasError(Exception):
    """A problem the user can fix; its message names the key or file at fault."""


class SearchAborted(NasError):
    """The search cannot go on (for example every candidate failed); what is recorded stays."""


def reason(error: BaseException) -> str:
    """An exception's message, or its type's name when it has none, for an error line that says why."""
    return str(error) or type(error).__name__
