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


class ExportError(DigitError):
    """A result that cannot be written where it was asked to go."""
