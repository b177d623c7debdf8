"""The command's one error type: a problem with the user's input, reported as one line."""


class CliError(Exception):
    """Bad input (argument, file, model, checkpoint): the message names it and what is allowed."""
