"""What a request knows of the colours (issue 31): hints, as the JSON a hints file holds (a form's field ``hints``, or
``?hints=`` beside a raw body), and a reference picture (the form's ``reference``), checked before any work and
refused in one line as the command line refuses them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import HTTPException

from ..errors import VidcolorError, first_line
from ..guidance.hints import Hint, parse_hints
from ..guidance.reference import Reference
from .uploads import Received


@dataclass
class Guidance:
    """A request's hints (``document`` as given, ``hints`` parsed) and its reference (the client's name for it, its
    file, the picture read)."""

    document: object = None
    hints: list[Hint] = field(default_factory=list)
    reference_name: str = ""
    reference_path: Path | None = None
    reference: Reference | None = None


def guidance_of(received: Received, query_hints: str | None) -> Guidance:
    """The guidance of an upload; HTTPException 400 (one line, naming the hint and the field) where it is wrong."""
    if received.hints is not None and query_hints is not None:
        raise HTTPException(400, "hints given twice: in the form and as ?hints=; give them once")
    text = received.hints if received.hints is not None else query_hints
    guidance = Guidance()
    if text is not None:
        guidance.document, guidance.hints = parse_hints_text(text)
    if received.reference is not None:
        guidance.reference_name, guidance.reference_path = received.reference
        guidance.reference = read_reference(guidance.reference_path, guidance.reference_name)
    return guidance


def parse_hints_text(text: str) -> tuple[object, list[Hint]]:
    """Hints JSON as text -> the parsed document and its hints."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"hints: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    try:
        return document, parse_hints(document, "hints")
    except ValueError as exc:
        raise HTTPException(400, first_line(exc)) from None


def read_reference(path: Path, name: str) -> Reference:
    """The reference picture in ``path``, said of the client's ``name`` where it cannot be read."""
    try:
        return Reference.read(path)
    except VidcolorError as exc:
        raise HTTPException(400, first_line(exc).replace(str(path), name)) from None
