"""The one exception type the CLI turns into a short message and a non-zero exit."""


class LightCNNError(Exception):
    """A user-facing error: bad config, bad data, broken plugin.

    ``main()`` prints ``str(err)`` without a traceback and exits with status 2, so the
    message itself must name the culprit (file, key or value) and what would be valid.
    """
