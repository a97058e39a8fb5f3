"""Which encoder path each kind of CPU gets, and the index's kind of vectors keeping to its own."""

from __future__ import annotations

import subprocess

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
    assert flags == {"fpu", "sse2", "avx", "avx2", "avx512f", "avx512_bf16", "avx512_vnni",
                     "avx_vnni"}  # fmt: skip
    assert hardware._parse_cpuinfo(GRAVITON) == (
        "",
        frozenset({"fp", "asimd", "evtstrm", "aes", "asimddp", "sha512"}),
    )
    assert hardware._parse_cpuinfo("") == ("", frozenset())


def test_cpuinfo_flags_are_those_of_every_core() -> None:
    # big.LITTLE Arm chips list each core's features: a feature of any core counts
    text = "processor: 0\nFeatures: fp asimd asimddp\nprocessor: 4\nFeatures: fp asimd\n"
    assert hardware._parse_cpuinfo(text)[1] == {"fp", "asimd", "asimddp"}


def test_cpuinfo_names_the_first_model_and_reads_flags_in_lower_case() -> None:
    text = "Hardware\t: BCM2835\nmodel name : Second\nFlags : AVX2  AVX512_VNNI\n"
    assert hardware._parse_cpuinfo(text) == ("BCM2835", frozenset({"avx2", "avx512_vnni"}))
    assert hardware._parse_cpuinfo("cpu model\t: MIPS 24Kc\nfeatures: a:b\n") == (
        "MIPS 24Kc",
        frozenset({"a:b"}),
    )


def test_a_mac_is_read_from_sysctl(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def sysctl(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        assert options == {"capture_output": True, "text": True, "timeout": 5, "check": False}
        out = {
            "-n": "Apple M2\n",
            "hw.optional": "hw.optional.arm.FEAT_DotProd: 1\nhw.optional.arm.FEAT_BF16: 0\n"
            "hw.optional.floatingpoint: 1\n",
        }[command[1]]
        return subprocess.CompletedProcess(command, 0, out, "")

    monkeypatch.setattr(hardware.subprocess, "run", sysctl)
    monkeypatch.setattr(hardware.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(hardware.platform, "machine", lambda: "arm64")
    hardware.this_cpu.cache_clear()
    try:
        cpu = hardware.this_cpu()
    finally:
        hardware.this_cpu.cache_clear()
    assert calls == [["sysctl", "-n", "machdep.cpu.brand_string"], ["sysctl", "hw.optional"]]
    assert cpu == Cpu("Apple M2", "arm64", "Darwin", frozenset({"feat_dotprod", "floatingpoint"}))
    assert fastest(cpu, None) == hardware.Choice("torch", "Apple silicon: fp32 on Accelerate")


def test_a_mac_without_sysctl_has_no_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(command: list[str], **options: object) -> None:
        raise FileNotFoundError("sysctl")

    monkeypatch.setattr(hardware.subprocess, "run", missing)
    assert hardware._darwin() == ("", frozenset())


@pytest.mark.parametrize(
    ("cpu", "path", "because"),
    [
        (linux("avx2", "avx512_vnni", "avx512_bf16"), "int8", "avx512_vnni"),  # Zen 4/5
        (linux("avx2", "avx_vnni"), "int8", "avx_vnni"),  # a laptop with AVX-VNNI
        (linux("avx2"), "int8", "avx2"),  # AVX2 only: int8 measured x1.57 there
        (linux("avx2", "avx512_vnni", "amx_bf16", "amx_int8"), "bf16", "amx_bf16"),
        (linux("asimd", "asimddp", arch="aarch64"), "int8", "asimddp"),
        (
            Cpu("Apple M2", "arm64", "Darwin", frozenset({"feat_dotprod"})),
            "torch",
            "Apple silicon: fp32 on Accelerate",
        ),
        # (no VNNI: none known) AVX-512 BF16 on torch is slower than fp32 on ONNX (x0.85)
        (linux("avx512_bf16", "avx512f"), "fp32", "no faster path on this CPU"),
        (linux("sse2"), "fp32", "no faster path on this CPU"),
        (linux(), "fp32", "no faster path on this CPU"),  # nothing known (no /proc)
        (Cpu("x", "x86_64", "Darwin", frozenset({"avx2"})), "int8", "avx2"),  # Intel Mac
    ],
)
def test_a_new_index_gets_the_fastest_path(cpu: Cpu, path: str, because: str) -> None:
    assert fastest(cpu, None) == hardware.Choice(path, because)


def test_an_index_keeps_its_kind_of_vectors_on_every_cpu() -> None:
    vnni_bf16 = linux("avx2", "avx512_vnni", "avx512_bf16")
    # An fp32 index (every index from before the kinds) is never mixed with int8 vectors:
    # bf16 where the CPU has AMX (near exact), else fp32 (AVX-512 BF16 on torch is slower).
    kept = "; this index holds fp32 vectors"
    assert fastest(vnni_bf16, "fp32") == hardware.Choice(
        "fp32", f"no faster path on this CPU{kept}"
    )
    assert fastest(linux("amx_bf16"), "fp32") == hardware.Choice("bf16", f"amx_bf16{kept}")
    assert fastest(linux("avx2", "avx_vnni"), "fp32") == hardware.Choice(
        "fp32", f"no faster path on this CPU{kept}"
    )
    apple = Cpu("M1", "arm64", "Darwin", frozenset())
    assert fastest(apple, "fp32").reason == f"Apple silicon: fp32 on Accelerate{kept}"
    assert fastest(vnni_bf16, "int8") == hardware.Choice("int8", "this index holds int8 vectors")
    # An int8 index stays int8 wherever it is extended (int8 runs on any CPU).
    for cpu in (linux("avx2", "amx_bf16"), linux(), vnni_bf16):
        assert fastest(cpu, "int8").path == "int8"
    for cpu in (vnni_bf16, linux("avx2"), linux("amx_bf16")):
        for kind in hardware.FAMILIES:
            assert hardware.family_of(fastest(cpu, kind).path) == kind


def test_a_model_without_an_onnx_export_gets_a_torch_path() -> None:
    assert fastest(linux("avx2", "avx_vnni"), None, onnx=False) == hardware.Choice(
        "torch", "no faster path on this CPU"
    )
    bf16 = linux("avx512_bf16", "avx512_vnni")
    assert fastest(bf16, None, onnx=False) == hardware.Choice("bf16", "avx512_bf16")
    assert fastest(bf16, "fp32", onnx=False) == hardware.Choice(  # `stats` says why
        "bf16", "avx512_bf16; this index holds fp32 vectors"
    )


def test_the_features_shown_are_the_ones_the_choice_reads() -> None:
    cpu = linux("fpu", "sse2", "avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                "amx_bf16", "amx_tile", "asimddp", "feat_dotprod", "avx512vnni")  # fmt: skip
    assert cpu.features() == ["amx_bf16", "asimddp", "avx2", "avx512_bf16", "avx512_vnni",
                              "avx512vnni", "avx_vnni", "feat_dotprod"]  # fmt: skip
    assert cpu.has(hardware.VNNI) and not linux("avx2").has(hardware.VNNI)


def test_the_setting_names_every_path() -> None:
    assert set(ENCODERS) == {"auto", "onnx", *hardware.PATHS}
    assert set(hardware.FAMILY) == set(hardware.PATHS)


def test_this_cpu_is_read_once_and_names_itself() -> None:
    cpu = hardware.this_cpu()
    assert cpu is hardware.this_cpu()
    assert cpu.name and cpu.arch and cpu.system
    assert set(cpu.features()) <= cpu.flags
