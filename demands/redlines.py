"""Word-level redlines between two versions of contract language, computed once as operations.

The diff itself is the standard library's `difflib.SequenceMatcher` over word tokens; this module only
splits the text into words (whitespace kept with the word before it, so text joins back exactly) and
renders the operations for pages (`<ins>`/`<del>`), digest HTML (inline styles) and plain text
(`[-old-]{+new+}`).
"""

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

OpKind = Literal["equal", "insert", "delete"]
WORD_RE = re.compile(r"\S+\s*|\s+")

# Readable without colour: struck through and underlined, as well as red and green.
INLINE_STYLES = {
    "delete": "color:#9b1c1c;background:#fde8e8;text-decoration:line-through",
    "insert": "color:#03543f;background:#def7ec;text-decoration:underline",
}


@dataclass(frozen=True)
class Op:
    """One run of the redline: text kept, inserted or deleted."""

    op: OpKind
    text: str


def _words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def redline(old: str, new: str) -> list[Op]:
    """The operations that turn `old` into `new`, word by word; a replaced run is a delete then an insert."""
    before, after = _words(old), _words(new)
    # Compare words without their trailing whitespace: a re-wrapped line is not a change of wording.
    matcher = difflib.SequenceMatcher(
        None, [word.strip() for word in before], [word.strip() for word in after], autojunk=False
    )
    ops: list[Op] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append(Op("equal", "".join(after[j1:j2])))
            continue
        if tag in ("delete", "replace"):
            ops.append(Op("delete", "".join(before[i1:i2])))
        if tag in ("insert", "replace"):
            ops.append(Op("insert", "".join(after[j1:j2])))
    return ops


def _split_space(text: str) -> tuple[str, str]:
    body = text.rstrip()
    return body, text[len(body) :]


def as_html(ops: list[Op], *, inline_styles: bool = False) -> SafeString:
    """`<ins>` and `<del>` around changed words (with inline styles for mail clients when asked)."""
    parts = []
    for item in ops:
        if item.op == "equal":
            parts.append(escape(item.text))
            continue
        tag = "ins" if item.op == "insert" else "del"
        body, space = _split_space(item.text)
        style = f' style="{INLINE_STYLES[item.op]}"' if inline_styles else ""
        parts.append(f"<{tag}{style}>{escape(body)}</{tag}>{escape(space)}")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text above is escaped


def as_text(ops: list[Op]) -> str:
    """Plain text: `[-deleted-]` and `{+inserted+}`, as `git diff --word-diff` writes them."""
    parts = []
    for item in ops:
        if item.op == "equal":
            parts.append(item.text)
            continue
        body, space = _split_space(item.text)
        parts.append(f"[-{body}-]{space}" if item.op == "delete" else f"{{+{body}+}}{space}")
    return "".join(parts)


def as_data(ops: list[Op]) -> list[dict[str, str]]:
    """The operations for the API: `[{"op": "equal"|"insert"|"delete", "text": ...}]`."""
    return [{"op": item.op, "text": item.text} for item in ops]
