"""Search modes, filters and scores over a small corpus, including awkward file names."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_tui.errors import ConfigError, IndexError_
from atlas_tui.knowledge.base import KnowledgeBase

ODD = 'notes/it\'s "odd" Ünïcødé name.md'
FILES = {
    "install.md": "# Installing\n\nRun pip install atlas-tui to install the tool.\n\n"
    "## Linux\n\nOn Linux use your distribution's Python 3.11 or newer.\n",
    "trimodal.md": "# Trimodal methodology\n\nThe trimodal methodology combines bottom-up "
    "implementation, top-down design and holistic integration.\n",
    "gardening.md": "# Gardening\n\nTomatoes need sun, water and a stake to climb.\n",
    ODD: "# Owls\n\nOwls hunt at night and swallow mice whole.\n",
    "notes/plain.md": "# Bats\n\nBats hunt insects at night using echolocation.\n",
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder) -> tuple[KnowledgeBase, str]:
    from atlas_tui.config import Settings

    base = tmp_path_factory.mktemp("search")
    root = base / "corpus"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    kb = KnowledgeBase(Settings(db_path=str(base / "db"), collection="search"))
    assert kb.ingest([root]).files_added == len(FILES)
    return kb, str(root)


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_each_mode_finds_the_right_file(indexed, mode: str) -> None:
    kb, root = indexed
    passages = kb.search("what is the trimodal methodology?", mode=mode, limit=3)
    assert passages[0].source == "trimodal.md" and passages[0].root == root
    assert [p.rank for p in passages] == list(range(1, len(passages) + 1))
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert "holistic integration" in passages[0].text and passages[0].title


def test_vector_mode_matches_meaning_without_shared_words(indexed) -> None:
    kb, _root = indexed
    assert kb.search("growing vegetables outdoors", mode="vector", limit=1)[0].source == (
        "gardening.md"
    )


def test_source_glob_with_quotes_spaces_and_non_ascii(indexed) -> None:
    kb, _root = indexed
    for glob in (ODD, "notes/it's*", '*"odd"*', "*Ünïcødé*"):
        hits = kb.search("hunting at night", source=glob, limit=10)
        assert {p.source for p in hits} == {ODD}, glob
    assert {p.source for p in kb.search("night", source="notes/*", limit=10)} == {
        ODD,
        "notes/plain.md",
    }
    assert kb.search("night", source="nothing/*") == []


def test_where_filters_by_metadata_equality(indexed) -> None:
    kb, _root = indexed
    hits = kb.search("night hunters", where={"source": ODD}, limit=10)
    assert hits and {p.source for p in hits} == {ODD}
    assert kb.search("night hunters", where={"title": "Bats"}, mode="keyword")[0].source == (
        "notes/plain.md"
    )
    with pytest.raises(ConfigError, match="Cannot filter on 'vector'"):
        kb.search("x", where={"vector": 1})


def test_min_score_and_limit(indexed) -> None:
    kb, _root = indexed
    everything = kb.search("owls", mode="vector", limit=10)
    assert len(everything) == kb.stats().chunks >= 5
    assert len(kb.search("owls", mode="vector", limit=2)) == 2
    cut = everything[2].score
    kept = kb.search("owls", mode="vector", limit=10, min_score=cut)
    assert kept == [p for p in everything if p.score >= cut] and len(kept) < len(everything)
    assert kb.search("owls", min_score=1.01) == []


def test_bad_arguments_are_clear_errors(indexed) -> None:
    kb, _root = indexed
    with pytest.raises(ConfigError, match="Unknown search mode"):
        kb.search("x", mode="fuzzy")
    with pytest.raises(ConfigError, match="at least 1"):
        kb.search("x", limit=0)
    assert kb.search("   ") == []


def test_odd_names_can_be_changed_and_deleted(tmp_path, kb: KnowledgeBase) -> None:
    root = tmp_path / "odd"
    (root / "notes").mkdir(parents=True)
    odd, other = root / ODD, root / "it's here.md"
    odd.write_text(FILES[ODD], encoding="utf-8")
    other.write_text("# Here\n\nA note about herons.\n", encoding="utf-8")
    kb.ingest([root])
    odd.write_text("# Owls\n\nOwls are silent flyers.\n", encoding="utf-8")
    assert kb.ingest([root]).files_updated == 1
    texts = [p.text for p in kb.search("owls mice night", source=ODD, mode="keyword", limit=20)]
    assert texts == ["Owls are silent flyers."]  # the new text, and the old one gone
    assert kb.search("swallow mice whole", mode="keyword", limit=20) == []
    odd.unlink()
    assert kb.ingest([root]).files_removed == 1
    assert kb.search("owls", source=ODD) == []
    assert kb.search("silent flyers", mode="keyword", limit=20) == []
    assert [p.source for p in kb.search("herons", mode="keyword")] == ["it's here.md"]


def test_document_text_reloads_the_file(indexed) -> None:
    kb, _root = indexed
    passage = kb.search("tomatoes", mode="keyword", limit=1)[0]
    assert "stake to climb" in kb.document_text(passage)


def test_a_file_grown_past_the_size_cap_or_gone_is_not_reloaded_and_says_why(indexed) -> None:
    from dataclasses import replace

    kb, _root = indexed
    passage = kb.search("tomatoes", mode="keyword", limit=1)[0]
    size = Path(passage.path).stat().st_size
    capped = KnowledgeBase(replace(kb.settings, max_file_bytes=size - 1))
    with pytest.raises(IndexError_) as raised:
        capped.document_text(passage)
    assert raised.value.message == (
        f"Cannot reload {passage.path}: too large ({size} bytes; the limit is {size - 1})"
    )
    gone = replace(passage, source="gone.md")
    with pytest.raises(IndexError_) as raised:
        kb.document_text(gone)
    assert raised.value.message == f"Cannot reload {gone.path}: no such file"


def test_a_document_whose_title_matches_the_question_is_lifted() -> None:
    from atlas_tui.knowledge.retrieval import Fusion, fuse

    def row(cid: str, title: str) -> dict[str, object]:
        return {"id": cid, "file_id": cid, "title": title, "source": f"{cid}.rst"}

    glossary, gzip_page = row("a", "Glossary"), row("b", "gzip: support for gzip files")
    far = row("c", "Index")  # the weakest candidate of both lists: it sets their range
    vector = [(glossary, 0.8), (gzip_page, 0.79), (far, 0.2)]
    keyword = [(glossary, 9.0), (gzip_page, 8.5), (far, 1.0)]
    assert [r["id"] for r, _ in fuse(vector, keyword)] == ["a", "b", "c"]  # no titles: scores
    similarity = {"Glossary": 0.1, "gzip: support for gzip files": 0.7}
    ranked = fuse(vector, keyword, Fusion(), similarity)
    assert [r["id"] for r, _ in ranked] == ["b", "a", "c"]
    assert all(0.0 <= score <= 1.0 for _, score in ranked)


def test_release_notes_come_after_the_page_that_documents_the_feature(tmp_path, kb) -> None:
    """The changelog says it in the question's own words; the page that documents it comes
    first, unless the question asks what changed."""
    from dataclasses import replace

    from atlas_tui.knowledge import retrieval

    root = tmp_path / "project"
    (root / "docs").mkdir(parents=True)
    (root / "CHANGELOG.md").write_text(
        "# Changelog\n\n## 2.0\n\n- pack: compress a folder into one archive, choosing the "
        "compression level with --level.\n- Fixed a crash on empty folders.\n",
        encoding="utf-8",
    )
    (root / "docs/compression.md").write_text(
        "# Compression\n\nThe pack command compresses a folder into a single archive file. "
        "Choose how hard it tries with --level 1 to 9; the default level is 6.\n",
        encoding="utf-8",
    )
    for rel, text in FILES.items():
        (root / "docs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "docs" / rel).write_text(text, encoding="utf-8")
    kb.ingest([root])
    question = "compress a folder into one archive choosing the compression level"
    assert [p.source for p in kb.search(question, limit=2)] == [
        "docs/compression.md",
        "CHANGELOG.md",
    ]
    unweighted = replace(retrieval.DEFAULT_FUSION, release_notes_weight=1.0)
    plain = retrieval.search(
        kb.store, question, encode=kb.embedder.encode_query, encode_titles=kb.encode_titles,
        limit=2, fusion=unweighted,
    )  # fmt: skip
    assert plain[0].source == "CHANGELOG.md"  # without the prior the changelog leads
    asked = kb.search("what changed in 2.0 for compressing a folder into one archive?", limit=1)
    assert asked[0].source == "CHANGELOG.md"
