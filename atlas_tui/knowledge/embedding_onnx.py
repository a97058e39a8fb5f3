"""The ONNX Runtime encoders: the same model's transformer, exported once, run without torch.

The export is fp32 and exact (cosine to sentence-transformers >= 0.9999 on real chunks, see
benchmarks/RESULTS-encoder.md); pooling (mean over the text's tokens) and L2 normalisation happen in
numpy, tokenisation with `tokenizers` set to the model's own window. The int8 graph is that export
with its weights quantised per output channel and its activations quantised per call (ONNX
Runtime's dynamic quantisation: the scale of a call's activations comes from the whole input
tensor). Each text therefore runs on its own (`OnnxEncoder.encode`): its int8 vector never depends
on the texts encoded beside it, and nothing is padded. The files live in the user cache dir, keyed
by the model's files and the library versions, and are never committed.
Only plain BERT-style sentence-transformers folders (Transformer + mean Pooling [+ Normalize]) are
supported; anything else raises `UnsupportedModel` and the caller falls back to torch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from atlas_tui.config import user_cache_dir

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")


class UnsupportedModel(Exception):
    """This model cannot take the ONNX path (the caller uses torch instead)."""


def available() -> bool:
    """True when onnxruntime and onnx (for the one-off export, with torch) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def _check_supported(folder: Path) -> None:
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        pooling_dir = next(m["path"] for m in modules if str(m["type"]).endswith("Pooling"))
        pooling = json.loads((folder / pooling_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise UnsupportedModel(f"no readable sentence-transformers config in {folder}") from exc
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if any(kind not in _SUPPORTED_MODULES for kind in kinds):
        raise UnsupportedModel(f"modules {kinds} are not all of {_SUPPORTED_MODULES}")
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise UnsupportedModel(f"pooling {modes} is not a plain mean")
    if not (folder / "tokenizer.json").is_file():
        raise UnsupportedModel("no tokenizer.json")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "none"


def supports(folder: Path | None) -> bool:
    """Whether this model can take an ONNX path (installed runtime, plain BERT-style model)."""
    if folder is None or not available():
        return False
    try:
        _check_supported(folder)
    except UnsupportedModel:
        return False
    return True


def _cache_file(folder: Path, kind: str = "") -> Path:
    """Where the export of this model folder lives: keyed by its files and the exporter versions
    (`kind` "int8": its quantised graph)."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    for package in ("torch", "transformers", "onnx", "onnxruntime"):
        digest.update(f"{package}={_version(package)}\n".encode())
    digest.update(str(folder.resolve()).encode())
    suffix = f"-{kind}" if kind else ""
    return user_cache_dir() / "onnx" / f"{folder.name}-{digest.hexdigest()[:16]}{suffix}.onnx"


def _atomic(target: Path, make: Callable[[str], None]) -> None:
    """Run `make(temporary path)`, then move the result to `target` (never a half-written file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(handle)
    try:
        make(temporary)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def quantize(source: Path, target: Path) -> None:
    """The int8 graph of an fp32 export: weights int8 per output channel, activations per call
    (only matrix products with a constant weight: attention's own products stay fp32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def make(temporary: str) -> None:
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # its advice to pre-process is for static quantisation
        try:
            quantize_dynamic(source, temporary, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.disable(previous)

    _atomic(target, make)


def export(folder: Path, target: Path) -> None:
    """Export the model's transformer (fp32, eager attention) to `target`, atomically."""
    import torch
    from transformers import AutoModel

    from atlas_tui.knowledge.embedding import quiet_model_loading

    with quiet_model_loading():
        model = AutoModel.from_pretrained(
            str(folder), attn_implementation="eager", local_files_only=True
        ).eval()

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    # A padded batch, as at run time: row 2 ends in padding.
    ids = torch.tensor([[101, 7592, 2088, 2003, 102], [101, 7592, 102, 0, 0]], dtype=torch.int64)
    mask = (ids != 0).to(torch.int64)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}

    def make(temporary: str) -> None:
        with quiet_model_loading(), torch.no_grad():
            torch.onnx.export(
                _Hidden(),
                (ids, mask, torch.zeros_like(ids)),
                temporary,
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=dynamic,
                opset_version=17,
                dynamo=False,
            )

    _atomic(target, make)


class OnnxEncoder:
    """Mean-pooled, normalised sentence vectors from an exported transformer."""

    def __init__(
        self, folder: Path, max_tokens: int, model_file: Path | None = None, *, int8: bool = False
    ) -> None:
        """`model_file`: an already exported graph to run (benchmarks try variants); `int8`: the
        quantised graph (made from the export on first use)."""
        _check_supported(folder)
        import onnxruntime
        from tokenizers import Tokenizer

        self._folder, self._int8 = folder, int8
        path = model_file or _cache_file(folder, "int8" if int8 else "")
        self._tokenizer: Tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.no_padding()  # one text a run (encode): nothing to pad to
        self.model_file = path
        self._ort = onnxruntime
        self._sessions: dict[int, onnxruntime.InferenceSession] = {}
        self._lock = threading.Lock()
        try:
            if not path.is_file():
                self._make(path)
            self._session(1)  # load now, so a broken file fails here and not mid-ingest
        except Exception:  # onnx's and onnxruntime's errors share no base: a damaged file is redone
            if model_file is not None:
                raise
            self._make(path, again=True)
            self._session(1)

    def _make(self, path: Path, again: bool = False) -> None:
        """Export (or quantise) the graph into the cache; `again`: the cached one is damaged."""
        if again:
            path.unlink(missing_ok=True)
        if not self._int8:
            export(self._folder, path)
            return
        source = _cache_file(self._folder)
        if again or not source.is_file():
            source.unlink(missing_ok=True)  # (a damaged int8 file may come from a damaged export)
            export(self._folder, source)
        quantize(source, path)

    def _session(self, threads: int) -> onnxruntime.InferenceSession:
        """One session per thread count (ORT fixes it per session); made on first need."""
        with self._lock:
            session = self._sessions.get(threads)
            if session is None:
                options = self._ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                session = self._ort.InferenceSession(
                    str(self.model_file), options, providers=["CPUExecutionProvider"]
                )
                self._sessions[threads] = session
            return session

    def encode(self, texts: Sequence[str], threads: int) -> np.ndarray:
        """One normalised row per text, each text run through the graph on its own: no padding,
        and an int8 text's activation scales come from that text alone, so its vector is the
        same whatever it is encoded with (a query alone, a passage in any batch). One text a run
        is also the fastest measured on CPU, for fp32 and int8 alike (no padding, and small
        attention tensors: benchmarks/RESULTS-encoder.md, 2026-12-08)."""
        session = self._session(threads)
        rows = [
            self._encode_one(session, encoding)
            for encoding in self._tokenizer.encode_batch(list(texts))
        ]
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    @staticmethod
    def _encode_one(session: onnxruntime.InferenceSession, encoding: Any) -> np.ndarray:
        feeds = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        }
        pooled = session.run(None, feeds)[0][0].mean(axis=0)  # every token is a real one
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)
