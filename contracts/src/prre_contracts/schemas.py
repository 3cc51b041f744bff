"""The committed JSON Schemas of the catalogue, and the check that guards them.

Every (event type, schema version) has a file ``<EventType>.v<N>.json`` under
``contracts/schemas/``, next to ``envelope.v1.json``. Integrators build
against those files, so they are part of the contract: once a version is
published its schema may only change in ways that keep old data valid and old
readers working. A breaking change needs a new schema version (a new class
with a higher ``schema_version``) instead.

Usage::

    python -m prre_contracts.schemas --check   # exit 1 and list differences
    python -m prre_contracts.schemas --write   # regenerate from the models

The default directory is found relative to this file, which holds for the
editable install the workspace uses; pass ``--dir`` otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prre_contracts.catalogue import CATALOGUE, topic_for
from prre_contracts.compatibility import breaking_changes
from prre_contracts.envelope import EventEnvelope
from prre_contracts.errors import BreakingSchemaChange
from prre_contracts.events.base import Event

JsonSchema = dict[str, Any]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
WRITE_HINT = "run `python -m prre_contracts.schemas --write`"


def event_schema(cls: type[Event]) -> JsonSchema:
    """The JSON Schema of an event's data, with its catalogue facts attached."""
    schema = cls.model_json_schema()
    schema["$schema"] = DIALECT
    schema["x-prre"] = {
        "eventType": cls.event_type,
        "schemaVersion": cls.schema_version,
        "publisher": cls.publisher,
        "topic": topic_for(cls.publisher),
        "partitionKey": cls.key_field,
    }
    return schema


def expected_schemas() -> dict[str, JsonSchema]:
    """Every schema file the models call for, by file name."""
    files = {
        f"{event_type}.v{version}.json": event_schema(cls)
        for (event_type, version), cls in CATALOGUE.items()
    }
    envelope = EventEnvelope.model_json_schema()
    files["envelope.v1.json"] = {**envelope, "$schema": DIALECT}
    return files


def render(schema: JsonSchema) -> str:
    """The committed text of a schema: sorted keys and a trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """Every difference between the committed files and the models."""
    expected = expected_schemas()
    problems = [
        problem
        for name, schema in expected.items()
        for problem in _check_file(directory / name, schema)
    ]
    return problems + _orphans(directory, expected)


def _check_file(path: Path, schema: JsonSchema) -> list[str]:
    if not path.exists():
        return [f"missing: {path.name} has no committed file; {WRITE_HINT}"]
    text = path.read_text(encoding="utf-8")
    if text == render(schema):
        return []
    breaking = breaking_changes(json.loads(text), schema)
    if breaking:
        return [f"breaking: {path.name}: {sentence}" for sentence in breaking]
    return [f"changed: {path.name} differs from its model (compatibly); {WRITE_HINT}"]


def _orphans(directory: Path, expected: Mapping[str, JsonSchema]) -> list[str]:
    committed = sorted(path.name for path in directory.glob("*.json"))
    return [
        f"orphaned: {name} has no model; restore the model of this version"
        for name in committed
        if name not in expected
    ]


def write_schemas(directory: Path = SCHEMA_DIR, allow_breaking: bool = False) -> int:
    """Regenerate the files; refuse breaking changes unless allowed.

    Returns how many files were written.
    """
    expected = expected_schemas()
    if not allow_breaking:
        _refuse_breaking(directory, expected)
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, schema in expected.items():
        path = directory / name
        text = render(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written += 1
    return written


def _refuse_breaking(directory: Path, expected: Mapping[str, JsonSchema]) -> None:
    breaking = [
        problem
        for name, schema in expected.items()
        for problem in _check_file(directory / name, schema)
        if problem.startswith("breaking:")
    ]
    if breaking:
        raise BreakingSchemaChange(breaking)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m prre_contracts.schemas",
        description="Check or regenerate the committed JSON Schemas of the events.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="exit 1 on differences")
    action.add_argument("--write", action="store_true", help="regenerate the files")
    parser.add_argument(
        "--allow-breaking",
        action="store_true",
        help="with --write: overwrite a published version even if it breaks",
    )
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="schema folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.check:
        return _run_check(args.dir)
    return _run_write(args.dir, args.allow_breaking)


def _run_check(directory: Path) -> int:
    problems = check_schemas(directory)
    for problem in problems:
        print(problem)
    if any(problem.startswith("breaking:") for problem in problems):
        print("A breaking change needs a new schema version, not an edited one.")
    return 1 if problems else 0


def _run_write(directory: Path, allow_breaking: bool) -> int:
    try:
        written = write_schemas(directory, allow_breaking)
    except BreakingSchemaChange as err:
        print(err, file=sys.stderr)
        print("Refusing to overwrite; add a schema version.", file=sys.stderr)
        return 1
    print(f"{written} schema file(s) written to {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
