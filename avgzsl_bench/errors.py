"""User-facing errors: one readable message that names the file or field and the fix."""


class BenchError(Exception):
    """An error caused by the user's input or environment, shown without a traceback."""


class Interrupted(Exception):
    """The user stopped the work (Ctrl-C, SIGTERM); the message says what was kept and how to resume."""

    EXIT_CODE = 130  # the shell's code for a process ended by SIGINT
