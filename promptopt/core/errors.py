"""The base class of every error a user can fix.

Library code at any floor raises :class:`InputError`, or a subclass that says where it came from (a device, an
image file, a generator setting, a model that is not on disk), with a message that names the problem and the fix;
the CLI prints any of them as one line and exits with code 2.
"""


class InputError(ValueError):
    """Bad user input: a missing file, an unknown key, an impossible value."""


class Note(UserWarning):
    """What a user should know that does not stop the work (an old file read with defaults); library code warns
    with it (`warnings.warn(text, Note)`) and the CLI prints each as one line, `note: …`."""
