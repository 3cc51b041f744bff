import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from prre_contracts import CATALOGUE, BreakingSchemaChange
from prre_contracts.examples import all_examples
from prre_contracts.schemas import (
    check_schemas,
    event_schema,
    main,
    render,
    write_schemas,
)

RECEIVED = "ReferralReceived.v1.json"


@pytest.fixture
def schema_dir(tmp_path: Path) -> Path:
    write_schemas(tmp_path)
    return tmp_path


def edit(path: Path, change: Any) -> None:
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(render(schema))


def test_committed_schemas_match_the_models() -> None:
    assert check_schemas() == []


def test_there_is_one_file_per_event_version_and_the_envelope(
    schema_dir: Path,
) -> None:
    names = {path.name for path in schema_dir.iterdir()}

    assert names == {f"{t}.v{v}.json" for t, v in CATALOGUE} | {"envelope.v1.json"}


@pytest.mark.parametrize("event", all_examples(), ids=lambda e: e.event_type)
def test_schema_accepts_the_published_form(event: Any) -> None:
    schema = event_schema(type(event))

    jsonschema.validate(event.model_dump(mode="json"), schema)


def test_check_reports_a_missing_file(schema_dir: Path) -> None:
    (schema_dir / RECEIVED).unlink()

    [problem] = check_schemas(schema_dir)

    assert problem.startswith(f"missing: {RECEIVED}")


def test_check_reports_an_orphaned_file(schema_dir: Path) -> None:
    (schema_dir / "ReferralTeleported.v1.json").write_text("{}\n")

    assert check_schemas(schema_dir) == [
        "orphaned: ReferralTeleported.v1.json has no model; "
        "restore the model of this version"
    ]


def test_check_asks_for_write_after_a_compatible_change(schema_dir: Path) -> None:
    edit(schema_dir / RECEIVED, lambda s: s.update(description="old words"))

    [problem] = check_schemas(schema_dir)

    assert problem.startswith(f"changed: {RECEIVED}")
    assert "--write" in problem


def test_check_reports_a_breaking_change_distinctly(schema_dir: Path) -> None:
    # The committed file has a field the model no longer has.
    edit(schema_dir / RECEIVED, lambda s: s["properties"].update(legacy={}))

    problems = check_schemas(schema_dir)

    assert problems == [f"breaking: {RECEIVED}: Field 'legacy' was removed."]


def test_write_refuses_a_breaking_change(schema_dir: Path) -> None:
    edit(schema_dir / RECEIVED, lambda s: s["properties"].update(legacy={}))

    with pytest.raises(BreakingSchemaChange, match="legacy"):
        write_schemas(schema_dir)


def test_write_can_be_told_to_allow_a_breaking_change(schema_dir: Path) -> None:
    edit(schema_dir / RECEIVED, lambda s: s["properties"].update(legacy={}))

    assert write_schemas(schema_dir, allow_breaking=True) == 1
    assert check_schemas(schema_dir) == []


def test_check_command_exits_1_and_lists_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--check", "--dir", str(tmp_path)])

    assert code == 1
    assert f"missing: {RECEIVED}" in capsys.readouterr().out


def test_check_command_exits_0_when_all_match(schema_dir: Path) -> None:
    assert main(["--check", "--dir", str(schema_dir)]) == 0


def test_files_have_sorted_keys_and_a_trailing_newline(schema_dir: Path) -> None:
    text = (schema_dir / RECEIVED).read_text()

    assert text.endswith("}\n")
    assert text == render(json.loads(text))
