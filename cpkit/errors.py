"""The exception types cpkit raises, each with one-line text."""


class ConfigError(ValueError):
    """A parameter is invalid; the message names it and says what to do."""


class TrainingDiverged(ConfigError):
    """A loss became NaN or infinite; the message names epoch and step."""
