"""Small corpora made on the fly, and one embedding model for the whole session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from atlas_tui.config import Settings
from tests.corpus import write_files


@pytest.fixture(scope="session")
def embedder():
    from atlas_tui.config import DEFAULT_EMBEDDING_MODEL
    from atlas_tui.knowledge.embedding import get_embedder

    model = get_embedder(DEFAULT_EMBEDDING_MODEL)
    model.warm()
    return model


CORPUS = {
    "install.md": "# Installing\n\nRun pip install atlas-tui to install the tool.\n\n"
    "## Linux\n\nOn Linux use your distribution's Python 3.11 or newer.\n",
    "trimodal.md": "# Trimodal methodology\n\nThe trimodal methodology combines bottom-up "
    "implementation, top-down design and holistic integration.\n",
    "gardening.md": "# Gardening\n\nTomatoes need sun, water and a stake to climb.\n\n"
    "Basil grows well beside tomatoes.\n",
}


@pytest.fixture
def write_corpus(tmp_path: Path) -> Callable[..., Path]:
    def write(files: dict[str, str | bytes] | None = None, name: str = "corpus") -> Path:
        return write_files(tmp_path / name, CORPUS if files is None else files)

    return write


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db_path=str(tmp_path / "db"), collection="test_kb")


@pytest.fixture
def kb(settings: Settings, embedder):
    from atlas_tui.knowledge.base import KnowledgeBase

    return KnowledgeBase(settings)


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="atlas-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)
