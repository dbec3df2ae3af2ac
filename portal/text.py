"""Which characters the portal accepts in text, for the API and the forms alike, and how it writes a length of time.

A line (a title, a name, anything stored in a CharField) holds no control characters and no line breaks: it goes
into email subjects, where a CR or LF is refused outright (BadHeaderError), and into chat titles, calendar summaries
and log lines. Text (a TextField: descriptions, notes) may hold tabs and line breaks, but no other control character.
NUL is refused everywhere: PostgreSQL stores it in neither text nor JSON.
"""

import re
import unicodedata
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_BREAKING = frozenset({"Cc", "Zl", "Zp"})
_TEXT_WHITESPACE = frozenset("\t\n\r")


def _breaking(character: str) -> bool:
    return unicodedata.category(character) in _BREAKING


def refused_characters(value: str, *, multiline: bool) -> list[str]:
    """The characters of `value` a line (or, with `multiline`, text) may not hold, each once, in order."""
    allowed = _TEXT_WHITESPACE if multiline else frozenset()
    return list(dict.fromkeys(c for c in value if _breaking(c) and c not in allowed))


def describe(characters: list[str]) -> str:
    return ", ".join(f"U+{ord(c):04X}" for c in characters)


@deconstructible
class ControlCharacterValidator:
    """Refuses control characters: all of them in a line, all but tab, CR and LF in text."""

    def __init__(self, *, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, value: object) -> None:
        if not isinstance(value, str):
            return
        if found := refused_characters(value, multiline=self.multiline):
            what = "control characters" if self.multiline else "line breaks or control characters"
            raise ValidationError(f"Must not contain {what} (found {describe(found)}).", code="control_characters")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ControlCharacterValidator) and other.multiline == self.multiline

    def __hash__(self) -> int:
        return hash(self.multiline)


one_line_validator = ControlCharacterValidator(multiline=False)
text_validator = ControlCharacterValidator(multiline=True)

_RUNS = re.compile(r"\s+")


def one_line(value: str) -> str:
    """`value` as one line: control characters and runs of whitespace become single spaces. For text made from stored
    values (an email subject) whatever validation those values once had."""
    return _RUNS.sub(" ", "".join(" " if _breaking(c) else c for c in value)).strip()


def duration_words(minutes: int) -> str:
    """A length of time as every page, email and review writes it: '0 min', '45 min', '1 h 30 min', '24 h', '3 d',
    '2 d 2 h'; parts that are zero are left out. Hours run to 48 before days, as the seeds count ('24 hours',
    '24-48 hours'). Live countdowns keep their own ticking form (portal_tags.timer)."""
    hours, minutes = divmod(max(minutes, 0), 60)
    days, hours = divmod(hours, 24) if hours >= 48 else (0, hours)
    parts = [f"{amount} {unit}" for amount, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if amount]
    return " ".join(parts) or "0 min"


def length_words(length: timedelta) -> str:
    """`duration_words` of a timedelta, in whole minutes."""
    return duration_words(length // timedelta(minutes=1))
