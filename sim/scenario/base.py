"""The frozen base of every scenario block, the limits a scenario must respect, and the
constrained number types the blocks are made of."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

DAYS_PER_MONTH = 30.4375  # 365.25 / 12: months in every output are days / 30.4375
DAYS_PER_YEAR = 365.25
MAX_STUDY_YEARS = 50  # a study (its dates, its accrual) longer than this cannot be simulated
MAX_SAMPLE_SIZE = 20_000  # a chunk of replicates of a trial is held in memory at once
MAX_HAZARD_RATIO = 1000.0  # hazard ratios outside [1/1000, 1000] are no trial's effect
MAX_DAYS = 366 * MAX_STUDY_YEARS  # a treatment gap, window or interval longer than a study
MAX_CYCLES = 520  # cycles or courses of one patient: weekly for ten years

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]
PositiveDays = Annotated[int, Field(gt=0, le=MAX_DAYS)]
Cycles = Annotated[int, Field(gt=0, le=MAX_CYCLES)]


class Frozen(BaseModel):
    """Base of every scenario block: immutable, unknown keys rejected.

    Each field carries a docstring on the line below it: what it means, then its unit in
    square brackets (``[months]``, ``[mg/m2]``, ``[share]``); these become the descriptions and
    units of the JSON Schema (``python -m sim schema``) and of ``docs/scenario.md``. They are
    read from the models' source when the schema is made (`sim.commands.schema`), not at
    import: pydantic's ``use_attribute_docstrings`` would make every command pay for them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def refuse_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        """`true` is not 1: a boolean where the field (or a row of it) is a number is an error
        (pydantic would read it as 1 or 0). Non-finite numbers: ``allow_inf_nan=False``."""
        if info.field_name is None:
            return value
        where = find_bool_for_number(value, cls.model_fields[info.field_name].annotation)
        if where is not None:
            at = f" (at {where})" if where else ""
            raise ValueError(
                f"a boolean{at} where a number is expected: write the number, "
                "e.g. 1 (true and false are not numbers)"
            )
        return value


def find_bool_for_number(value: Any, annotation: Any) -> str | None:
    """Where in `value` a bool stands for a number of `annotation` ("" for the value itself,
    "2" for row 2 of a table, "squamous" for a dict entry); None if nowhere."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return find_bool_for_number(value, typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if bool in args:
            return None
        hits = [find_bool_for_number(value, a) for a in args if a is not type(None)]
        return next((h for h in hits if h is not None), None)
    if origin is Literal:
        numbers = [
            a
            for a in typing.get_args(annotation)
            if isinstance(a, int | float) and not isinstance(a, bool)
        ]
        return "" if isinstance(value, bool) and numbers else None
    if annotation in (int, float):
        return "" if isinstance(value, bool) else None
    if origin is tuple and isinstance(value, list | tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        for i, item in enumerate(value):
            arg = args[0] if len(args) == 1 else args[i] if i < len(args) else None
            hit = find_bool_for_number(item, arg) if arg is not None else None
            if hit is not None:
                return ".".join(x for x in (str(i), hit) if x)
        return None
    if origin is dict and isinstance(value, dict):
        arg = typing.get_args(annotation)[1]
        for key, item in value.items():
            hit = find_bool_for_number(item, arg)
            if hit is not None:
                return ".".join(x for x in (str(key), hit) if x)
    return None
