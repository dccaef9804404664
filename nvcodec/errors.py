"""The project's error types. Each carries one line meant for a person: which file, what is wrong."""


class NvcodecError(Exception):
    """Base class: the CLI prints ``str(err)`` on one line and exits with code 2."""


class InputError(NvcodecError):
    """An input (video, image folder, option) cannot be used."""


class BitstreamError(NvcodecError):
    """A .nvc file is truncated, corrupted, or declares something outside the limits."""


class OutputError(NvcodecError):
    """An output path cannot be written."""
