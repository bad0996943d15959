"""Errors a user can act on. Each one is reported by the CLI as a single line."""


def first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (library messages can run to paragraphs)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class VidcolorError(Exception):
    """Base class: the message is complete and meant for the user."""


class InputError(VidcolorError):
    """The input is missing, unreadable, or not what the command needs."""


class OutputError(VidcolorError):
    """The output cannot be written where or how it was asked for."""


class WeightsError(VidcolorError):
    """No usable colorizer weights."""


class BackendUnavailable(VidcolorError):
    """The requested inference backend cannot run on this machine."""
