"""The errors of the contracts package, all under one root."""


class ContractError(Exception):
    """Root of every error raised by ``prre_contracts``."""


class UnknownEventType(ContractError):
    """No catalogue entry exists for an (event type, schema version) pair."""


class InvalidEventData(ContractError):
    """An envelope's ``data`` does not match the schema of its event type."""


class UnknownPublisher(ContractError):
    """A service name that publishes no events (so has no topic)."""


class BreakingSchemaChange(ContractError):
    """A model changed a published schema version in a breaking way."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
