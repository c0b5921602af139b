"""Text from a stack (reasons, notices, errors), made safe to print: a terminal shows it, never obeys it.

A stored reason or an AWS error message can hold control characters (an ESC starting a terminal sequence,
a carriage return overwriting the line, a bidirectional override reordering it). Each is printed escaped,
as Python writes it in a string literal (\\x1b, \\r, \\u202e); with `lines`, line breaks stay line breaks."""

from __future__ import annotations

import unicodedata

# Bidirectional formatting characters, which reorder what follows (Unicode's "Trojan Source" characters).
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str, *, lines: bool = False) -> str:
    out = []
    for character in text:
        keep = character == "\n" and lines
        if not keep and (unicodedata.category(character) == "Cc" or character in BIDI):
            out.append(character.encode("unicode_escape").decode("ascii"))
        else:
            out.append(character)
    return "".join(out)
