"""User-facing errors: one readable message that names the file or field and the fix."""


class BenchError(Exception):
    """An error caused by the user's input or environment, shown without a traceback."""
