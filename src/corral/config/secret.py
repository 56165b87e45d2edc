"""`Secret`: a password or passphrase that never shows in reprs, messages or logs."""

from __future__ import annotations

MASK = "****"


class Secret:
    """A secret string; `repr` and `str` are masked, `reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        self._value = value.reveal() if isinstance(value, Secret) else value

    def reveal(self) -> str:
        """Return the secret value (only for handing it to the transport)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def reveal(value: str | Secret | None) -> str | None:
    """Return the plain value of a string or Secret (None stays None)."""
    if isinstance(value, Secret):
        return value.reveal()
    return value


def mask(text: str, secrets: list[str]) -> str:
    """Replace every occurrence of each non-empty secret in `text` with the mask."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
