from __future__ import annotations

from pathlib import Path

import pytest

from flalliance.fl.dataset import DataError
from flalliance.fl.plugins.lora_config import TextLayout
from flalliance.fl.plugins.lora_text import (
    SKILLS,
    TextExample,
    generate_examples,
    read_jsonl_dir,
    write_jsonl,
    write_partitions,
)

pytestmark = pytest.mark.unit


def _dir(tmp_path: Path, *lines: str) -> Path:
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_prompt_response_and_plain_text_lines(tmp_path: Path) -> None:
    d = _dir(tmp_path, '{"prompt": "Hi?", "response": "Yes"}', "", '{"text": "free text"}')
    assert read_jsonl_dir(d, TextLayout()) == [TextExample("Hi?", "Yes"), TextExample("free text")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", r"a.jsonl:1: not a JSON object"),
        ("[1, 2]", r"a.jsonl:1: expected a JSON object, got list"),
        ('{"prompt": "x"}', r"a.jsonl:1: missing field 'response'"),
        ('{"prompt": "x", "response": 3}', r"a.jsonl:1: field 'response' must be a non-empty string"),
        ('{"text": ""}', r"a.jsonl:1: field 'text' must be a non-empty string"),
        ('{"other": "x"}', r"a.jsonl:1: missing field 'prompt'"),
    ],
)
def test_bad_lines_name_the_file_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_jsonl_dir(_dir(tmp_path, line), TextLayout())


def test_custom_field_names_and_line_limit(tmp_path: Path) -> None:
    d = _dir(tmp_path, '{"q": "a", "a": "b"}')
    assert read_jsonl_dir(d, TextLayout(prompt_field="q", response_field="a")) == [TextExample("a", "b")]
    with pytest.raises(DataError, match=r"line longer than 64 bytes"):
        read_jsonl_dir(_dir(tmp_path, '{"text": "' + "x" * 80 + '"}'), TextLayout(max_line_bytes=64))


def test_empty_or_missing_directories(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist"):
        read_jsonl_dir(tmp_path / "nope", TextLayout())
    with pytest.raises(DataError, match=r"no .jsonl files"):
        read_jsonl_dir(tmp_path, TextLayout())


def test_generated_data_is_seeded_and_round_trips(tmp_path: Path) -> None:
    a, b = generate_examples(50, seed=3), generate_examples(50, seed=3)
    assert a == b and a != generate_examples(50, seed=4)
    assert all(e.response for e in a)
    write_jsonl(tmp_path / "x" / "d.jsonl", a)
    assert read_jsonl_dir(tmp_path / "x", TextLayout()) == a
    mixes = write_partitions(tmp_path / "parts", 3, 20, alpha=0.5, seed=1, test=30)
    assert sorted(mixes) == ["client-0", "client-1", "client-2"]
    assert all(len(m) == len(SKILLS) and abs(sum(m) - 1) < 1e-3 for m in mixes.values())
    assert len(read_jsonl_dir(tmp_path / "parts" / "global-test", TextLayout())) == 30
