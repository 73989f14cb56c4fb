"""Errors a user can act on.

Every message names the problem and what to do about it; the CLI prints ``str(error)`` on one
line and exits non-zero, the service marks the job failed with the same text and keeps running.
"""


class BridgeError(Exception):
    """Base class for errors whose message is meant for the user."""


class InvalidRequest(BridgeError, ValueError):
    """A render request with an out-of-range or inconsistent parameter."""


class ModelNotAvailable(BridgeError):
    """A model that is not on disk and cannot be fetched, or a folder that is not a model."""


class AudioInputError(BridgeError):
    """A source audio file that is missing, corrupt, absurd or not finite."""


class OutputError(BridgeError):
    """An output that cannot be written (folder missing or read-only, non-finite samples)."""


class Cancelled(BridgeError):
    """The render was cancelled between two sampling steps."""
