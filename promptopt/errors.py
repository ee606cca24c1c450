"""The one exception type for bad user input.

Library code raises :class:`InputError` with a message that names the problem and the fix;
the CLI prints it as one line and exits with code 2.
"""


class InputError(ValueError):
    """Bad user input: a missing file, an unknown key, an impossible value."""
