"""Where the model runs and in which precision: `trainer.device` and `trainer.precision`."""

from pathlib import Path

import torch

from zelda.engine.distributed import local_rank
from zelda.errors import ZeldaError

PRECISIONS = {"32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}
PRECISION_CHOICES = ("auto", *PRECISIONS)  # what trainer.precision accepts


def resolve_device(device: str) -> torch.device:
    """`auto` picks CUDA when present (this rank's GPU under torchrun), else the CPU."""
    if device == "auto":
        return torch.device(f"cuda:{local_rank()}" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes bf16 natively (CUDA with bf16; CPUs with AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)  # compute capability >= 8.0
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def not_native(precision: str, device: torch.device) -> str | None:
    """Why `device` has no fast kernels for `precision` (None when it has): PyTorch would
    fall back to slow reference kernels instead of failing."""
    if precision == "16-mixed" and device.type != "cuda":
        return "fp16 is for CUDA"
    if precision == "bf16-mixed" and not native_bf16(device):
        return f"no native bf16 on this {'GPU' if device.type == 'cuda' else 'CPU'}"
    return None


def runs_natively(precision: str, device: torch.device) -> bool:
    """Whether `device` has fast kernels for `precision`: fp16 only on CUDA, bf16 where native."""
    return not_native(precision, device) is None


def resolve_precision(precision: str | int, device: torch.device) -> str:
    """`auto`: bf16-mixed where the device has native bf16, else 32. A mode the device
    cannot run natively stops here, at startup, rather than running for hours."""
    if str(precision) == "auto":
        return "bf16-mixed" if native_bf16(device) else "32"
    if str(precision) not in PRECISIONS:
        raise ValueError(f"trainer.precision must be auto or one of {list(PRECISIONS)}, got {precision!r}")
    if reason := not_native(str(precision), device):
        raise ZeldaError(
            f"trainer.precision={precision} cannot run at speed on {device} ({reason}): PyTorch would fall back to "
            "reference kernels (on the CPU a single-threaded reference Conv3d, so an epoch would take hours). "
            "Use trainer.precision=32, or auto (bf16-mixed only where the device has it natively)"
            + (", or 16-mixed on this GPU" if device.type == "cuda" else ""))
    return str(precision)


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """Mixed precision for `bf16-mixed` / `16-mixed`; a no-op for 32."""
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """Loss scaling for `16-mixed` (fp16 gradients underflow without it); bf16 and fp32 need none."""
    return torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")
