"""Which encoder path each kind of CPU gets, and the index's kind of vectors keeping to its own."""

from __future__ import annotations

import pytest

from atlas_tui.config import ENCODERS
from atlas_tui.knowledge import hardware
from atlas_tui.knowledge.hardware import Cpu, fastest

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 avx512f avx512_bf16 avx512_vnni avx_vnni
processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 avx512f avx512_bf16 avx512_vnni avx_vnni
"""
GRAVITON = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp sha512\nCPU part\t: 0xd0c\n"


def linux(*flags: str, arch: str = "x86_64") -> Cpu:
    return Cpu("test cpu", arch, "Linux", frozenset(flags))


def test_cpuinfo_gives_the_name_and_every_flag() -> None:
    name, flags = hardware._parse_cpuinfo(EPYC)
    assert name == "AMD EPYC"
    assert {"avx2", "avx512_vnni", "avx512_bf16", "avx_vnni"} <= flags
    assert hardware._parse_cpuinfo(GRAVITON)[1] >= {"asimddp", "asimd"}
    assert hardware._parse_cpuinfo("") == ("", frozenset())


@pytest.mark.parametrize(
    ("cpu", "path", "because"),
    [
        (linux("avx2", "avx512_vnni", "avx512_bf16"), "int8", "avx512_vnni"),  # Zen 4/5
        (linux("avx2", "avx_vnni"), "int8", "avx_vnni"),  # a laptop with AVX-VNNI
        (linux("avx2"), "int8", "avx2"),  # AVX2 only: int8 measured x1.57 there
        (linux("avx2", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"), "bf16", "amx_bf16"),
        (linux("asimd", "asimddp", arch="aarch64"), "int8", "asimddp"),
        (Cpu("Apple M2", "arm64", "Darwin", frozenset({"feat_dotprod"})), "torch", "Apple"),
        (linux("sse2"), "fp32", "no faster path"),
        (linux(), "fp32", "no faster path"),  # nothing known (no /proc)
    ],
)
def test_a_new_index_gets_the_fastest_path(cpu: Cpu, path: str, because: str) -> None:
    choice = fastest(cpu, None)
    assert choice.path == path and because in choice.reason


def test_an_index_keeps_its_kind_of_vectors_on_every_cpu() -> None:
    vnni_bf16 = linux("avx2", "avx512_vnni", "avx512_bf16")
    # An fp32 index (every index from before the kinds) is never mixed with int8 vectors:
    # bf16 where the CPU has it (near exact), else fp32.
    assert fastest(vnni_bf16, "fp32").path == "bf16"
    assert "holds fp32" in fastest(vnni_bf16, "fp32").reason
    assert fastest(linux("avx2", "avx_vnni"), "fp32").path == "fp32"
    # An int8 index stays int8 wherever it is extended (int8 runs on any CPU).
    for cpu in (linux("avx2", "amx_bf16"), linux(), vnni_bf16):
        assert fastest(cpu, "int8").path == "int8"
    for cpu in (vnni_bf16, linux("avx2"), linux("amx_bf16")):
        for kind in hardware.FAMILIES:
            assert hardware.family_of(fastest(cpu, kind).path) == kind


def test_a_model_without_an_onnx_export_gets_a_torch_path() -> None:
    assert fastest(linux("avx2", "avx_vnni"), None, onnx=False).path == "torch"
    assert fastest(linux("avx512_bf16", "avx512_vnni"), None, onnx=False).path == "bf16"


def test_the_setting_names_every_path() -> None:
    assert set(ENCODERS) == {"auto", "onnx", *hardware.PATHS}
    assert set(hardware.FAMILY) == set(hardware.PATHS)


def test_this_cpu_is_read_once_and_names_itself() -> None:
    cpu = hardware.this_cpu()
    assert cpu is hardware.this_cpu()
    assert cpu.name and cpu.arch and cpu.system
    assert set(cpu.features()) <= cpu.flags
