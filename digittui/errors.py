"""Errors a user can cause and fix. Front ends print their message; nothing else needs a traceback."""


class DigitError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class DataError(DigitError):
    """MNIST files missing, unreadable or malformed."""


class CheckpointError(DigitError):
    """A checkpoint file that cannot be used: missing, corrupt, foreign, unsafe or mismatched."""


class DeviceError(DigitError):
    """A device that was explicitly required is not available, or ran out of memory."""


class SpecError(DigitError):
    """A generation request that cannot be parsed."""


class ImageError(DigitError):
    """An image file that cannot be read or used."""


class WriteError(DigitError):
    """A file that cannot be written where it was asked to go: not a regular file, read-only, full."""


class ExportError(WriteError):
    """A result (PNG, GIF, npz) that cannot be made or written where it was asked to go."""


class ConfigError(DigitError):
    """A model configuration (from a file or an option) of the wrong type, out of range or too big."""


class HomeError(DigitError):
    """No home folder to keep per-user files in (HOME unset, and no passwd entry for this user)."""


class LimitError(DigitError):
    """A request past what this machine can do: a count, size or value beyond its limit."""
