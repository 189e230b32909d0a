"""The options models' base (``rerankit._options_base``): the rule each field makes, in words, and
messages that never show a string option's text."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from annotated_types import Ge
from pydantic import Field, SecretStr

from rerankit import ConfigurationError
from rerankit._options_base import OptionalNonBlankStr, Options


class Demo(Options):
    owner = "demo"

    budget: Annotated[int, Ge(1)] | Literal["auto"] | None = Field(default="auto", description="A budget.")
    share: int | float = Field(default=1, ge=0, le=1, description="A share.")
    length: int | None = Field(default=None, ge=8, description="A length.")
    mode: Literal["fast", "exact"] = Field(default="fast", description="A mode.")
    label: str | None = Field(default=None, description="A label.")
    api_key: SecretStr | None = Field(default=None, description="A key.")
    instruction: OptionalNonBlankStr = Field(default=None, description="An instruction.")
    flag: bool = Field(default=False, description="A flag.")


def message(**values: object) -> str:
    with pytest.raises(ConfigurationError) as caught:
        Demo.validated(values)
    assert caught.value.provider == "demo"
    return caught.value.message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"budget": 0}, "budget must be an integer of at least 1, 'auto' or None, got 0"),
        ({"budget": "big"}, "budget must be an integer of at least 1, 'auto' or None, got 'big'"),
        ({"share": 2}, "share must be a number from 0 to 1, got 2"),
        ({"share": True}, "share must be a number from 0 to 1, got True"),
        ({"length": 4}, "length must be an integer of at least 8 (or None), got 4"),
        ({"mode": "slow"}, "mode must be one of 'fast', 'exact', got 'slow'"),
        ({"label": 3}, "label must be a string (or None), got int"),
        ({"instruction": "  "}, "instruction must be a non-blank string"),
        ({"instruction": 3}, "instruction must be a non-blank string"),
        ({"flag": "yes"}, "flag must be True or False, got 'yes'"),
        (
            {"nope": 1},
            "unknown option 'nope'; valid options: budget, share, length, mode, label, api_key, instruction, flag",
        ),
        (
            {"budget": 0, "length": 4},
            "budget must be an integer of at least 1, 'auto' or None, got 0; length must be an integer of at least 8 (or None), got 4",
        ),
    ],
)
def test_each_bad_option_is_named_with_its_rule_and_value(values: dict, expected: str) -> None:
    assert message(**values) == expected


def test_the_text_of_a_string_option_is_never_shown() -> None:
    assert "sk-secret" not in message(api_key=b"sk-secret")
    assert "sk-secret" not in message(label=b"sk-secret")  # any string option may hold one


def test_from_arguments_takes_the_fields_among_a_functions_arguments() -> None:
    def build(model: str, *, budget: int | str | None = Demo.default("budget"), other: int = 3) -> Demo:
        return Demo.from_arguments(locals())

    assert build("m").budget == "auto" and build("m", budget=5).budget == 5
    with pytest.raises(ConfigurationError, match="budget must be an integer of at least 1"):
        build("m", budget=0)
