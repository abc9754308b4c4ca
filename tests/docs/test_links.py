"""Every Markdown link in README.md and docs/ resolves inside the repository.

No link leaves the repository (no scheme, nothing above its root), every
target file exists, and every ``#anchor`` is a heading of its target page,
as GitHub renders it. A clone on any code host then explains itself.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from .markdown import REPO, Page, github_slug, markdown_files, name

PAGES = {path: Page.read(path) for path in markdown_files()}


def _problems(page: Page, root=REPO) -> list[str]:
    problems = []
    for line, target in page.links():
        where = f"{page.path.relative_to(root)}:{line}: {target}"
        parts = urlsplit(target)
        if parts.scheme or target.startswith("//"):
            problems.append(f"{where} points outside the repository")
            continue
        path_part, anchor = unquote(parts.path), unquote(parts.fragment)
        resolved = (page.path.parent / path_part).resolve() if path_part else page.path
        if not resolved.is_relative_to(root):
            problems.append(f"{where} points outside the repository")
            continue
        if not resolved.exists():
            problems.append(f"{where}: {resolved.relative_to(root)} does not exist")
            continue
        if anchor:
            if resolved.suffix != ".md":
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif anchor not in (PAGES.get(resolved) or Page.read(resolved)).anchors():
                problems.append(f"{where}: no heading #{anchor} in {resolved.name}")
    return problems


@pytest.mark.parametrize("path", list(PAGES), ids=name)
def test_every_link_resolves_inside_the_repository(path):
    assert _problems(PAGES[path]) == []


def test_the_docs_have_an_index_that_links_every_page():
    index = PAGES[REPO / "docs" / "index.md"]
    linked = {(REPO / "docs" / target.split("#")[0]).resolve()
              for _, target in index.links() if target.split("#")[0]}
    pages = {path for path in PAGES if path.parent == REPO / "docs" and path.name != "index.md"}
    assert pages - linked == set(), "pages missing from docs/index.md"


@pytest.mark.parametrize("heading, anchor", [
    ("Resume and retry", "resume-and-retry"),
    ("`GetUploadHandlerStatus` (ours)", "getuploadhandlerstatus-ours"),
    ("SQLite vs PostgreSQL: when to switch", "sqlite-vs-postgresql-when-to-switch"),
    ("Gunicorn", "gunicorn"),
    ("1. Install", "1-install"),
])
def test_anchors_are_computed_as_github_does(heading, anchor):
    assert github_slug(heading) == anchor


def test_the_checker_catches_what_it_must(tmp_path):
    (tmp_path / "other.md").write_text("## Some Part\n")
    page = tmp_path / "page.md"
    page.write_text("# Top\n[a](https://example.org) [b](../x.md) [c](missing.md) "
                    "[d](#nowhere) [e](#top) [f](other.md#some-part) [g](other.md#none)\n"
                    "`[h](https://in.code)`\n```\n[i](https://in.block)\n```\n")
    assert _problems(Page.read(page), root=tmp_path) == [
        "page.md:2: https://example.org points outside the repository",
        "page.md:2: ../x.md points outside the repository",
        "page.md:2: missing.md: missing.md does not exist",
        "page.md:2: #nowhere: no heading #nowhere in page.md",
        "page.md:2: other.md#none: no heading #none in other.md",
    ]
