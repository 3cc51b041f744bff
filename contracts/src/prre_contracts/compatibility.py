"""Tell whether a new JSON Schema of an event breaks its consumers.

A change is breaking when data that was valid under the old schema is no
longer valid under the new one, or when a consumer reading the new data would
misread it: a field removed, a field's type or format changed, a set of
allowed values narrowed, a reference to another definition swapped, a bound
tightened, or a field that producers could leave out now required. Adding an
optional field, adding allowed values or changing descriptions is not.

The comparison follows local ``$ref``s into ``$defs``, so a change inside a
nested value (say ``baseline.attendance_percent``) is reported with its path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

JsonSchema = dict[str, Any]

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")


@dataclass(frozen=True)
class _Walk:
    """Where the comparison is: both sides' definitions and the refs entered."""

    old_defs: JsonSchema
    new_defs: JsonSchema
    entered: frozenset[str] = frozenset()

    def entering(self, kind: str) -> _Walk:
        return replace(self, entered=self.entered | {kind})


def breaking_changes(old_schema: JsonSchema, new_schema: JsonSchema) -> list[str]:
    """Sentences describing each breaking change from old to new; empty if none."""
    walk = _Walk(old_schema.get("$defs", {}), new_schema.get("$defs", {}))
    return _compare_object(walk, old_schema, new_schema, prefix="")


def _compare_object(
    walk: _Walk, old: JsonSchema, new: JsonSchema, prefix: str
) -> list[str]:
    old_props = old.get("properties", {})
    new_props = new.get("properties", {})
    problems = []
    for name, old_field in old_props.items():
        if name not in new_props:
            problems.append(f"Field '{prefix}{name}' was removed.")
        else:
            path = prefix + name
            problems += _compare_field(walk, old_field, new_props[name], path)
    return problems + _required_changes(old, new, prefix)


def _required_changes(old: JsonSchema, new: JsonSchema, prefix: str) -> list[str]:
    added = sorted(set(new.get("required", [])) - set(old.get("required", [])))
    old_props = old.get("properties", {})
    return [
        f"Field '{prefix}{name}' was made required."
        if name in old_props
        else f"New required field '{prefix}{name}' was added."
        for name in added
    ]


def _compare_field(
    walk: _Walk, old: JsonSchema, new: JsonSchema, path: str
) -> list[str]:
    old_variants = _variants(walk.old_defs, old)
    new_variants = _variants(walk.new_defs, new)
    problems = []
    for kind, old_variant in old_variants.items():
        if kind not in new_variants:
            now = " or ".join(new_variants)
            problems.append(
                f"Field '{path}' was retyped: {kind} is no longer accepted "
                f"(it now takes {now})."
            )
        elif kind not in walk.entered:
            inner = walk.entering(kind)
            problems += _compare_variant(inner, old_variant, new_variants[kind], path)
    return problems


def _variants(defs: JsonSchema, schema: JsonSchema) -> dict[str, JsonSchema]:
    """The alternative shapes a field accepts, by a name for their kind.

    A reference to an object definition is named after the definition, so
    pointing a field at another definition counts as a change of type.
    """
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "allOf")}
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        return {k: v for alt in alternatives for k, v in _variants(defs, alt).items()}
    if len(schema.get("allOf", [])) == 1:
        return _variants(defs, {**rest, **schema["allOf"][0]})
    if "$ref" in schema:
        return _referenced(defs, schema)
    return _by_type(schema)


def _referenced(defs: JsonSchema, schema: JsonSchema) -> dict[str, JsonSchema]:
    name = str(schema["$ref"]).rsplit("/", 1)[-1]
    target = defs.get(name, {})
    if "properties" in target:
        return {f"object {name}": target}
    rest = {k: v for k, v in schema.items() if k != "$ref"}
    return _variants(defs, {**target, **rest})


def _by_type(schema: JsonSchema) -> dict[str, JsonSchema]:
    kinds = schema.get("type", "any")
    if isinstance(kinds, list):
        return {str(kind): {**schema, "type": kind} for kind in kinds}
    return {str(kinds): schema}


def _compare_variant(
    walk: _Walk, old: JsonSchema, new: JsonSchema, path: str
) -> list[str]:
    if "properties" in old or "properties" in new:
        return _compare_object(walk, old, new, prefix=f"{path}.")
    problems = _format_change(old, new, path) + _enum_narrowing(old, new, path)
    problems += _tightened_bounds(old, new, path)
    if "items" in old or "items" in new:
        old_items, new_items = old.get("items", {}), new.get("items", {})
        problems += _compare_field(walk, old_items, new_items, f"{path}[]")
    return problems


def _format_change(old: JsonSchema, new: JsonSchema, path: str) -> list[str]:
    before, after = old.get("format"), new.get("format")
    if before == after:
        return []
    return [f"Field '{path}' changed format from {before} to {after}."]


def _allowed(schema: JsonSchema) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    return None


def _enum_narrowing(old: JsonSchema, new: JsonSchema, path: str) -> list[str]:
    before, after = _allowed(old), _allowed(new)
    if after is None:
        return []
    if before is None:
        return [f"Field '{path}' now only accepts the values {after}."]
    dropped = [value for value in before if value not in after]
    if not dropped:
        return []
    return [f"Field '{path}' no longer accepts the values {dropped}."]


def _tightened_bounds(old: JsonSchema, new: JsonSchema, path: str) -> list[str]:
    problems = [
        f"Field '{path}' has a tighter {key}: {old.get(key)} became {new[key]}."
        for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS)
        if key in new and _tightens(key, old.get(key), new[key])
    ]
    pattern = new.get("pattern")
    if pattern is not None and pattern != old.get("pattern"):
        problems.append(f"Field '{path}' must now match the pattern {pattern!r}.")
    return problems


def _tightens(key: str, before: float | None, after: float) -> bool:
    """True when the bound ``after`` admits fewer values than ``before`` did."""
    if before is None:
        return True
    return after > before if key in _LOWER_BOUNDS else after < before
