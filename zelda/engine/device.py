"""Where the model runs and in which precision: `trainer.device` and `trainer.precision`."""

from pathlib import Path

import torch

from zelda.engine.distributed import local_rank

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
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def runs_natively(precision: str, device: torch.device) -> bool:
    """Whether `device` has fast kernels for `precision`: fp16 only on CUDA, bf16 where native."""
    if precision == "16-mixed":
        return device.type == "cuda"
    return precision != "bf16-mixed" or native_bf16(device)


def resolve_precision(precision: str | int, device: torch.device) -> str:
    """`auto`: bf16-mixed where the device has native bf16, else 32."""
    if str(precision) == "auto":
        return "bf16-mixed" if native_bf16(device) else "32"
    if str(precision) not in PRECISIONS:
        raise ValueError(f"trainer.precision must be auto or one of {list(PRECISIONS)}, got {precision!r}")
    return str(precision)


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """Mixed precision for `bf16-mixed` / `16-mixed`; a no-op for 32."""
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """Loss scaling for `16-mixed` (fp16 gradients underflow without it); bf16 and fp32 need none."""
    return torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")
