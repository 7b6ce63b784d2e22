"""MkDocs hook: the README and benchmarks/README.md live outside docs/ (GitHub shows them where
they are), so the site adds them as pages of its own and points every link to them, and their
links into docs/, at those pages. Without it `mkdocs build --strict` refuses the links."""

from __future__ import annotations

import os
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
# file in the repository -> its page in the site
OUTSIDE = {"README.md": "project-readme.md", "benchmarks/README.md": "benchmarks.md"}
LINK = re.compile(r"(\]\()([^)#\s]+\.md)(#[^)\s]*)?\)")


def site_page(target: str, source_dir: str) -> str | None:
    """The site page a link to `target` written in `source_dir` reaches, or None if it
    leaves the documentation (the link is then left as written)."""
    path = os.path.normpath(os.path.join(source_dir, target)).replace(os.sep, "/")
    if path in OUTSIDE:
        return OUTSIDE[path]
    return path.removeprefix("docs/") if path.startswith("docs/") else None


def rewrite_links(markdown: str, source_dir: str) -> str:
    """Every markdown link to a .md file, pointed at its page in the site."""

    def one(match: re.Match) -> str:
        page = site_page(match.group(2), source_dir)
        if page is None:
            return match.group(0)
        # every page sits at the top of docs/, so a page's name is its link from any other
        return f"{match.group(1)}{page}{match.group(3) or ''})"

    return LINK.sub(one, markdown)


def on_files(files: Files, config) -> Files:
    for source, page in OUTSIDE.items():
        text = (ROOT / source).read_text(encoding="utf-8")
        text = rewrite_links(text, os.path.dirname(source))
        files.append(File.generated(config, page, content=text))
    return files


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    if page.file.src_uri in OUTSIDE.values():
        return markdown
    return rewrite_links(markdown, os.path.join("docs", os.path.dirname(page.file.src_uri)))
