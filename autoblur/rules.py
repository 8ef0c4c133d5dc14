"""Country rule files: which brands to remove and how.

A rule file may extend another (``extends: base.yaml``, relative to itself); brands merge by
name, the extending file's fields winning. Paths of logo images are relative to the file that
names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autoblur.errors import ConfigError
from autoblur.types import BrandCue
from autoblur.yaml_file import read_yaml

ActionName = Literal["inpaint", "blur", "pixelate", "fill", "keep"]


class BrandRule(BaseModel):
    """One brand entry of a rule file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    logos: list[str] | None = None
    text: list[str] | None = None
    prompts: list[str] | None = None
    action: ActionName | None = None
    notes: str | None = None

    @field_validator("text", "prompts")
    @classmethod
    def _no_blank_words(cls, words: list[str] | None) -> list[str] | None:
        if words is not None and any(not w.strip() for w in words):
            raise ValueError("entries must not be blank")
        return words


class RuleFileModel(BaseModel):
    """The top level of a rule file."""

    model_config = ConfigDict(extra="forbid")

    country: str | None = None
    extends: str | None = None
    default_action: ActionName | None = None
    brands: list[BrandRule] = Field(default_factory=list)


@dataclass(frozen=True)
class RuleSet:
    """A loaded rule file, with what it extends merged in.

    Attributes:
        path: the rule file given by the user.
        country: the country code, if the files name one.
        default_action: the action of brands that set none.
        brands: every brand, as cues for the detectors.
    """

    path: Path
    country: str | None
    default_action: str
    brands: tuple[BrandCue, ...]


def _error_location(model_input: dict[str, Any], loc: tuple[Any, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "brands" and isinstance(loc[1], int):
        brands = model_input.get("brands") or []
        entry = brands[loc[1]] if loc[1] < len(brands) else {}
        name = entry.get("name") if isinstance(entry, dict) else None
        label = f"brand {name!r}" if name else f"brand #{loc[1] + 1}"
        field = ".".join(str(p) for p in loc[2:]) or "(entry)"
        return f"{label}: field '{field}'"
    return f"field '{'.'.join(str(p) for p in loc)}'"


def _parse_file(path: Path) -> RuleFileModel:
    raw = read_yaml(path, "rule file")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a rule file must be a mapping with a 'brands' list")
    try:
        return RuleFileModel.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{path}: {_error_location(raw, first['loc'])}: {first['msg']}") from None


def _merge_chain(path: Path, seen: tuple[Path, ...]) -> tuple[RuleFileModel, dict[str, dict]]:
    """Parse ``path`` and its ``extends`` chain; brand fields carry absolute logo paths."""
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ConfigError(f"{path}: 'extends' loops back on itself ({chain})")
    model = _parse_file(path)
    brands: dict[str, dict] = {}
    default_action = model.default_action
    country = model.country
    if model.extends:
        parent_model, brands = _merge_chain(path.parent / model.extends, (*seen, path))
        default_action = default_action or parent_model.default_action
        country = country or parent_model.country
    for index, brand in enumerate(model.brands):
        fields = brand.model_dump(exclude_none=True)
        if "logos" in fields:
            fields["logos"] = [_logo_path(path, brand.name, index, p) for p in fields["logos"]]
        brands[brand.name] = {**brands.get(brand.name, {}), **fields}
    merged = RuleFileModel(country=country, default_action=default_action)
    return merged, brands


def _logo_path(rule_path: Path, brand: str, index: int, relative: str) -> str:
    logo = (rule_path.parent / relative).resolve()
    if not logo.is_file():
        raise ConfigError(
            f"{rule_path}: brand {brand!r}: field 'logos': image {relative!r} not found "
            f"(looked for {logo}; paths are relative to the rule file)"
        )
    return str(logo)


def load_rules(path: str | Path, fallback_action: str = "inpaint") -> RuleSet:
    """Load a country rule file and everything it extends.

    Args:
        path: the rule file.
        fallback_action: the action of brands when no file in the chain sets
            ``default_action``.

    Raises:
        ConfigError: naming the file, the brand and the field that is wrong.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: rule file not found")
    merged, brands = _merge_chain(path, ())
    default_action = merged.default_action or fallback_action
    cues = []
    for name, fields in brands.items():
        cue = BrandCue(
            name=name,
            action=fields.get("action") or default_action,
            logos=tuple(Path(p) for p in fields.get("logos", [])),
            text=tuple(fields.get("text", [])),
            prompts=tuple(fields.get("prompts", [])),
        )
        if not (cue.logos or cue.text or cue.prompts):
            raise ConfigError(
                f"{path}: brand {name!r}: needs at least one of 'logos', 'text' or 'prompts'"
            )
        cues.append(cue)
    if not cues:
        raise ConfigError(f"{path}: field 'brands': the rule file lists no brands")
    return RuleSet(
        path=path, country=merged.country, default_action=default_action, brands=tuple(cues)
    )
