"""The README and docs/ hold what a newcomer reads first: the README is short and starts with the two
commands, and every path of this repository the documents name exists (a move updates them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "README.md"]
# A path of this repository: a top-level folder of it, then a file with its suffix, or a folder/.
CITED = re.compile(r"(?<![\w./-])((?:app|tests|bench|deploy|loadtest|docs|templates|static|migrations)"
                   r"/(?:[\w.*-]+/)*(?:[\w*-]+\.(?:py|md|toml|cfg|html|css|js|json|png|service|env|ini)\b)?)")
LINK = re.compile(r"\]\((?!https?:|#|mailto:)([^)\s#]+)")

pytestmark = pytest.mark.once  # files: backend-independent


def test_the_readme_is_short_and_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) <= 8 * 1024
    first_block = re.search(r"```\w*\n(.*?)```", text, flags=re.DOTALL)
    assert first_block is not None
    commands = [line for line in first_block.group(1).splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["make run", "make test"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_document_names_exists(document: Path) -> None:
    text = document.read_text()
    missing = []
    for cited in CITED.findall(text):
        cited = cited.rstrip(".")
        if not list(ROOT.glob(cited)) and not (ROOT / cited).exists():
            missing.append(cited)
    for link in LINK.findall(text):
        if not (document.parent / link).exists():
            missing.append(link)
    assert not missing, f"{document.name} names what is not there: {sorted(set(missing))}"
