"""What every config section is, and how a value is quoted in an error message."""

from __future__ import annotations

import reprlib
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict

from edge.errors import redact_credentials

MAX_SHOWN_CHARS = 80  # longest value quoted in an error message


class Section(BaseModel):
    """A section of the config file: unknown keys are errors, defaults are validated too."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    @classmethod
    def choices(cls, name: str) -> list[str]:
        """The closed choices field `name` declares (its Literal), for the command line."""
        annotation = cls.model_fields[name].annotation
        values = [v for v in get_args(annotation) if isinstance(v, str)]
        if not values:
            raise TypeError(f"{cls.__name__}.{name} is not a Literal of strings")
        return values


_REPR = reprlib.Repr()
_REPR.maxstring = MAX_SHOWN_CHARS + 2
_REPR.maxother = MAX_SHOWN_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 8
_REPR.maxlevel = 3


def shorten(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """`text`, cut to `limit` characters with a trailing ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show(value: Any) -> str:
    """A value as error messages quote it: its repr, at most MAX_SHOWN_CHARS characters,
    a URL's credentials left out."""
    return shorten(redact_credentials(_REPR.repr(value)))
