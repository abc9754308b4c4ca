"""Just enough Markdown for the docs tests: fenced blocks, headings, links.

Conventions the tests rely on (see docs/index.md, "Writing these docs"):

- A fenced block's info string starts with its language. ``sh`` and
  ``python`` blocks are examples: they run against a live demo site. A
  second word ``fragment`` marks an excerpt that cannot run alone (a
  settings snippet, a command that installs or serves); a fragment is only
  checked for syntax (``bash -n``, ``compile``).
- An ``xml`` block right after an ``sh`` block is the answer that block's
  last command prints: element and attribute names must match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHELL = ("sh", "bash", "shell", "console")
PYTHON = ("python", "py", "python3")

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def markdown_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def name(path: Path) -> str:
    return str(path.relative_to(REPO))


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    info: str
    text: str

    @property
    def language(self) -> str:
        return self.info.split()[0].lower() if self.info.split() else ""

    @property
    def tags(self) -> list[str]:
        return self.info.split()[1:]

    @property
    def is_example(self) -> bool:
        return self.language in SHELL + PYTHON

    @property
    def runs(self) -> bool:
        return self.is_example and "fragment" not in self.tags

    def __str__(self) -> str:
        return f"{name(self.path)}:{self.line}"


@dataclass
class Page:
    path: Path
    blocks: list[Block]
    prose: list[tuple[int, str]]  # (line number, text) outside fenced blocks

    @classmethod
    def read(cls, path: Path) -> Page:
        blocks: list[Block] = []
        prose: list[tuple[int, str]] = []
        fence = None
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if fence is None:
                match = _FENCE.match(line)
                if match:
                    fence, start, info, body = match["fence"], number, match["info"].strip(), []
                else:
                    prose.append((number, line))
            elif line.strip().startswith(fence[0] * len(fence)) and not line.strip(fence[0]):
                blocks.append(Block(path, start, info, "\n".join(body) + "\n"))
                fence = None
            else:
                body.append(line)
        assert fence is None, f"{name(path)}: a fenced block opened on line {start} never closes"
        return cls(path, blocks, prose)

    def links(self) -> list[tuple[int, str]]:
        """(line, target) of every inline link and image outside code."""
        found = []
        for number, line in self.prose:
            text = _CODE_SPAN.sub("", line)
            found += [(number, m.group(1)) for m in _LINK.finditer(text)]
            found += [(number, m.group(1)) for m in _IMAGE.finditer(text)]
        return found

    def headings(self) -> list[str]:
        return [m.group(2) for _, line in self.prose if (m := _HEADING.match(line))]

    def anchors(self) -> set[str]:
        """GitHub's heading anchors, with -1, -2… for repeated ones."""
        seen: dict[str, int] = {}
        anchors = set()
        for heading in self.headings():
            slug = github_slug(heading)
            if slug in seen:
                seen[slug] += 1
                anchors.add(f"{slug}-{seen[slug]}")
            else:
                seen[slug] = 0
                anchors.add(slug)
        # Explicit anchors: <a id="…"> or <a name="…">.
        for _, line in self.prose:
            anchors.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", line))
        return anchors


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"<[^>]+>", "", heading)  # inline HTML
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = text.strip().lower()
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in "-_" or char == " " or category[0] in "LN" or category == "Mn":
            kept.append("-" if char == " " else char)
    return "".join(kept)
