"""The one exception type cpkit raises for bad input, with one-line text."""


class ConfigError(ValueError):
    """A parameter is invalid; the message names it and says what to do."""
