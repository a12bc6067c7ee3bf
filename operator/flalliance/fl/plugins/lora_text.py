"""Text for the LoRA plugin: reading a participant's JSONL files, and generating an offline corpus.

:func:`read_jsonl_dir` validates every line (one JSON object; a string prompt and response, or a string
text; nothing else) and names the file, the line and the field of the first problem. Files are read in
sorted name order so the samples, and with them the private split, are the same on every load.

:func:`generate_examples` writes instruction data from templates over five skills (reversing a word,
adding numbers, a country's capital, a plural, upper-casing), all from tables in this module and a seed:
no download, and a small model can learn it, so evaluation loss measurably falls. Participants draw their
mix of skills from a Dirichlet distribution, the usual non-IID split of federated benchmarks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flalliance.fl.dataset import DataError
from flalliance.fl.plugins.lora_config import TextLayout


@dataclass(frozen=True)
class TextExample:
    """A prompt and its response (loss on the response), or a plain text (``response`` None: loss on all)."""

    prompt: str
    response: str | None = None


def _parse_line(line: bytes, origin: str, layout: TextLayout) -> TextExample:
    try:
        doc = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{origin}: not a JSON object: {exc}") from None
    if not isinstance(doc, dict):
        raise DataError(f"{origin}: expected a JSON object, got {type(doc).__name__}")
    fields = (layout.prompt_field, layout.response_field)
    if layout.text_field in doc and not any(f in doc for f in fields):
        text = doc[layout.text_field]
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{origin}: field {layout.text_field!r} must be a non-empty string")
        return TextExample(text)
    for name in fields:
        if name not in doc:
            raise DataError(
                f"{origin}: missing field {name!r} (a line holds {layout.prompt_field!r} and "
                f"{layout.response_field!r}, or {layout.text_field!r})"
            )
        if not isinstance(doc[name], str) or not doc[name]:
            raise DataError(f"{origin}: field {name!r} must be a non-empty string")
    return TextExample(doc[layout.prompt_field], doc[layout.response_field])


def read_jsonl_dir(directory: Path, layout: TextLayout) -> list[TextExample]:
    """Every ``*.jsonl`` file of ``directory``, validated line by line."""
    if not directory.is_dir():
        raise DataError(f"{directory}: dataset directory does not exist")
    files = sorted(p for p in directory.iterdir() if p.suffix == ".jsonl" and p.is_file())
    if not files:
        raise DataError(f"{directory}: no .jsonl files (config.data.format is 'jsonl')")
    out: list[TextExample] = []
    for path in files:
        with path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                if len(line) > layout.max_line_bytes:
                    raise DataError(f"{path}:{number}: line longer than {layout.max_line_bytes} bytes")
                if line.strip():
                    out.append(_parse_line(line, f"{path}:{number}", layout))
    if not out:
        raise DataError(f"{directory}: the files hold no examples")
    return out


# ------------------------------------------------------------------------------------------ the corpus
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "fi", "go", "hu", "ba", "zo", "we")
_CAPITALS = {
    "France": "Paris", "Spain": "Madrid", "Italy": "Rome", "Japan": "Tokyo", "Kenya": "Nairobi",
    "Peru": "Lima", "Egypt": "Cairo", "Chile": "Santiago", "Norway": "Oslo", "Cuba": "Havana",
    "Ghana": "Accra", "Nepal": "Kathmandu", "Qatar": "Doha", "Greece": "Athens", "Poland": "Warsaw",
    "Canada": "Ottawa", "Brazil": "Brasilia", "India": "New Delhi", "China": "Beijing", "Mali": "Bamako",
}  # fmt: skip
_PLURALS = {
    "cat": "cats", "box": "boxes", "city": "cities", "child": "children", "mouse": "mice", "leaf": "leaves",
    "bus": "buses", "tooth": "teeth", "day": "days", "man": "men", "foot": "feet", "baby": "babies",
    "knife": "knives", "dish": "dishes", "goose": "geese", "toy": "toys", "wolf": "wolves", "fox": "foxes",
}  # fmt: skip
SKILLS = ("reverse", "add", "capital", "plural", "upper")


def _word(rng: np.random.Generator) -> str:
    return "".join(_SYLLABLES[i] for i in rng.integers(len(_SYLLABLES), size=int(rng.integers(2, 4))))


def _example(skill: str, rng: np.random.Generator) -> TextExample:
    if skill == "reverse":
        w = _word(rng)
        return TextExample(f"Reverse the word {w}.\n", f"{w[::-1]}")
    if skill == "add":
        a, b = (int(v) for v in rng.integers(0, 50, size=2))
        return TextExample(f"What is {a} plus {b}?\n", f"{a + b}")
    if skill == "capital":
        country = sorted(_CAPITALS)[int(rng.integers(len(_CAPITALS)))]
        return TextExample(f"What is the capital of {country}?\n", _CAPITALS[country])
    if skill == "plural":
        noun = sorted(_PLURALS)[int(rng.integers(len(_PLURALS)))]
        return TextExample(f"What is the plural of {noun}?\n", _PLURALS[noun])
    w = _word(rng)
    return TextExample(f"Write {w} in capitals.\n", w.upper())


def generate_examples(n: int, seed: int, mix: np.ndarray | None = None) -> list[TextExample]:
    """``n`` examples; ``mix`` is the probability of each of :data:`SKILLS` (uniform when None)."""
    rng = np.random.default_rng(seed)
    p = np.full(len(SKILLS), 1 / len(SKILLS)) if mix is None else mix
    return [_example(SKILLS[int(rng.choice(len(SKILLS), p=p))], rng) for _ in range(n)]


def corpus(seed: int = 0, n: int = 4000) -> list[str]:
    """Text to train the base model's tokenizer on (every skill, prompts and responses)."""
    return [e.prompt + (e.response or "") for e in generate_examples(n, seed)]


def write_jsonl(path: Path, examples: list[TextExample]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for e in examples:
            doc = {"text": e.prompt} if e.response is None else {"prompt": e.prompt, "response": e.response}
            fh.write(json.dumps(doc, sort_keys=True) + "\n")


def write_partitions(
    out: Path, participants: int, per_participant: int, *, alpha: float = 0.5, seed: int = 0, test: int = 400
) -> dict[str, list[float]]:
    """``client-<i>/data.jsonl`` per participant (skills drawn from Dirichlet(alpha)) and a pooled
    ``global-test/data.jsonl`` with every skill; returns each client's skill mix."""
    rng = np.random.default_rng(seed)
    mixes: dict[str, list[float]] = {}
    for i in range(participants):
        mix = rng.dirichlet(np.full(len(SKILLS), alpha))
        name = f"client-{i}"
        write_jsonl(out / name / "data.jsonl", generate_examples(per_participant, seed * 1000 + i + 1, mix))
        mixes[name] = [round(float(v), 4) for v in mix]
    write_jsonl(out / "global-test" / "data.jsonl", generate_examples(test, seed * 1000 + 999))
    return mixes
