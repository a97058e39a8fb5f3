"""Which encoder path this CPU runs fastest, decided at run time from what the CPU says it has.

The paths (embedding.py runs them; benchmarks/bench_encoder.py measures them):
- `fp32`: the model's exported graph on ONNX Runtime, exact (the reference);
- `torch`: stock sentence-transformers in fp32 (the same vectors; any model, and on Apple
  silicon torch's fp32 matrix products go through Accelerate and its matrix units);
- `bf16`: the same torch model with its matrix products in bfloat16 (oneDNN: AMX tiles, or
  AVX-512 BF16 for a model ONNX cannot run), cosine to fp32 >= 0.9999;
- `int8`: ONNX Runtime with the weights quantised to int8 per channel and the activations per
  text (dynamic, one text a run); VNNI (AVX-512 or AVX) does its products in one instruction.
  Cosine to fp32 ~0.994 on average, ~0.985 at worst.

Vectors come in two families that never share an index (`FAMILY`): fp32 and bf16 agree to 1e-4
(interchangeable), int8 differs by ~1e-2 (its errors are its own). An index records its family
when it is made, and every later ingest, on any machine, picks the fastest path of that family;
queries are encoded by that family's ONNX graph (see embedding.py and docs/scaling.md for the
figures behind this).
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PATHS = ("fp32", "int8", "bf16", "torch")
FAMILY = {"fp32": "fp32", "torch": "fp32", "bf16": "fp32", "int8": "int8"}
FAMILIES = ("fp32", "int8")
ONNX_PATHS = frozenset({"fp32", "int8"})  # these need a model that exports to ONNX

# x86 flags (/proc/cpuinfo) and Arm features (Linux "Features", macOS sysctl), lower case.
AMX = frozenset({"amx_bf16"})
AVX512_BF16 = frozenset({"avx512_bf16"})
VNNI = frozenset({"avx512_vnni", "avx_vnni", "avx512vnni"})
ARM_DOT = frozenset({"asimddp", "feat_dotprod"})


@dataclass(frozen=True, slots=True)
class Cpu:
    name: str  # "AMD EPYC", "Apple M2" (or the architecture when the name is unknown)
    arch: str  # platform.machine(): x86_64, aarch64, arm64
    system: str  # platform.system(): Linux, Darwin, Windows
    flags: frozenset[str]

    def has(self, wanted: frozenset[str]) -> bool:
        return bool(self.flags & wanted)

    def features(self) -> list[str]:
        """The features the path choice looks at, as the CPU names them."""
        shown = AMX | AVX512_BF16 | VNNI | ARM_DOT | {"avx2"}
        return sorted(self.flags & shown)


@dataclass(frozen=True, slots=True)
class Choice:
    path: str
    reason: str  # why, in a few words: "avx512_vnni", "forced by the encoder setting"


def _parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    name, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not name:
            name = value.strip()
        elif key in ("flags", "features"):
            flags |= set(value.lower().split())
    return name, frozenset(flags)


def _darwin() -> tuple[str, frozenset[str]]:
    def sysctl(*names: str) -> list[str]:
        try:
            out = subprocess.run(
                ["sysctl", *names], capture_output=True, text=True, timeout=5, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return out.splitlines()

    name = next(iter(sysctl("-n", "machdep.cpu.brand_string")), "")
    flags = {
        key.rsplit(".", 1)[-1].strip().lower()
        for key, _, value in (line.partition(":") for line in sysctl("hw.optional"))
        if value.strip() == "1"
    }
    return name, frozenset(flags)


@cache
def this_cpu() -> Cpu:
    """The CPU this process runs on (read once)."""
    system, arch = platform.system(), platform.machine().lower()
    name, flags = "", frozenset[str]()
    if system == "Linux":
        try:
            text = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:  # (a sandbox without /proc: no flags known, so the fp32 path)
            text = ""
        name, flags = _parse_cpuinfo(text)
    elif system == "Darwin":
        name, flags = _darwin()
    return Cpu(name or platform.processor() or arch, arch, system, flags)


def fastest(cpu: Cpu, family: str | None, *, onnx: bool = True) -> Choice:
    """The fastest path on `cpu` whose vectors belong to `family` (None: a new index, any
    family). `onnx`: whether the model exports to ONNX (only BERT-style models do).

    Measured on AVX2, AVX-512 VNNI and AVX-512 BF16 (benchmarks/RESULTS-encoder.md: since the
    ONNX paths run one text a run, AVX-512 BF16 on torch is slower than fp32 on ONNX, so it is
    taken only for a model ONNX cannot run); the AMX and Apple rows follow what those units are
    built for and are not measured here."""
    bf16 = "amx_bf16" if cpu.has(AMX) else "avx512_bf16" if cpu.has(AVX512_BF16) else ""
    int8 = next((f for f in (*sorted(VNNI), *sorted(ARM_DOT), "avx2") if f in cpu.flags), "")
    if family == "int8":
        return Choice("int8", "this index holds int8 vectors")
    kept = "; this index holds fp32 vectors" if family == "fp32" else ""
    if bf16 == "amx_bf16":  # AMX multiplies bf16 tiles: int8-class speed, near-exact vectors
        return Choice("bf16", f"amx_bf16{kept}")
    if cpu.system == "Darwin" and cpu.arch == "arm64":  # Accelerate runs fp32 on the matrix units
        return Choice("torch", f"Apple silicon: fp32 on Accelerate{kept}")
    if family is None and onnx and int8:
        return Choice("int8", int8)
    if bf16 and not onnx:  # AVX-512 BF16 on torch: x0.85 of fp32 on ONNX one text a run
        return Choice("bf16", f"{bf16}{kept}")
    return Choice("fp32" if onnx else "torch", f"no faster path on this CPU{kept}")


def family_of(path: str) -> str:
    return FAMILY[path]
