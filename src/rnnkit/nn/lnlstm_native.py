r"""The layer-normalised LSTM recurrence as one fused C++ kernel per step, compiled on first use.

:mod:`rnnkit.nn.lnlstm_bptt` runs the recurrence of :class:`~rnnkit.nn.LayerNormLSTMCell` with a hand-derived
backward pass, but as ~23 eager torch ops per step on ``(B, 4H)`` rows; the matrix products are ~70% of
``torch.nn.LSTM``'s time, so those ops (8-100 us each) decide the speed (``bench/README.md``, custom_cell_speed).
``csrc/lnlstm.cpp`` runs the same equations for a whole sequence: per step one BLAS product ``u_t = W_hh h_{t-1}``
and one loop per batch row that normalises, activates and updates the row while it is in L1::

    x_t = LN(W_ih x_t; gamma_ih, beta_ih)              (W_ih x_t of all steps: one product before the loop)
    a_t = x_t + LN(u_t; gamma_hh, beta_hh)             i, f, o = sigma(a_i, a_f, a_o)     g = tanh(a_g)
    c_t = f c_{t-1} + i g                              h_t = o tanh(LN(c_t; gamma_c, beta_c))

and backward the same per-row fusion of the gate and the three layer norms' gradients (equations in the C++ file
and in :mod:`rnnkit.nn.lnlstm_bptt`), with one product ``dh_{t-1} = W_hh^T du_t`` per step and ``dW_hh`` as one
product after the loop. Measured: ~1.0x ``torch.nn.LSTM``'s training throughput at H 256 and 512, against 0.6-0.7x
for the torch ops (one thread, ``bench/custom_cell_speed.py``). float32 uses a polynomial ``exp`` (Cephes' expf) so
that the row loops vectorise; float64 the library functions (the tests compare to 1e-10 there).

The extension is built by ``torch.utils.cpp_extension.load`` (a C++ compiler and ``ninja`` needed; ``pip install
ninja`` if the system has none) into ``$TORCH_EXTENSIONS_DIR/rnnkit`` or the user's cache folder
(``~/.cache/rnnkit/extensions``), once per machine: the folder's name hashes the source, the torch version and the
CPU's feature flags, because it is compiled with ``-march=native`` for the machine it runs on (a home folder shared
by different CPUs gets one build per CPU kind). When it cannot be built, one warning says why and training takes
the Python path; a failed build is remembered (delete the folder's ``failed.txt`` to try again).
``RNNKIT_NATIVE=0`` skips the kernel (the Python path always), e.g. to compare the two.

Used for CPU tensors of float32 or float64; everything else (CUDA, bfloat16, half) takes the Python path.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["native_available", "native_lnlstm_unroll", "native_ops", "native_supports"]

ENV_SWITCH = "RNNKIT_NATIVE"  # "0" / "false" / "off": the Python path, without trying to build
SOURCE = Path(__file__).parent / "csrc" / "lnlstm.cpp"
_LIBRARY = "rnnkit_lnlstm"  # the TORCH_LIBRARY namespace of the C++ file
_loaded: dict[str, object] = {}  # "ops" once loaded; "failure" once a build failed (this process)


def native_enabled() -> bool:
    """Whether the kernel may be used (``RNNKIT_NATIVE`` is not set to 0 / false / off)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "off", "no")


def native_supports(*tensors: Tensor | None) -> bool:
    """Whether the kernel runs these tensors: all on the CPU, all float32 or all float64, and not while
    ``torch.compile`` traces (the kernel is opaque to it: it has no shape-only implementation to trace with)."""
    present = [tensor for tensor in tensors if tensor is not None]
    dtype = present[0].dtype
    compiling = getattr(torch.compiler, "is_compiling", None)
    return dtype in (torch.float32, torch.float64) and not (compiling is not None and compiling()) and all(
        tensor.device.type == "cpu" and tensor.dtype == dtype for tensor in present)


def native_ops():
    """``torch.ops.rnnkit_lnlstm`` (``forward`` and ``backward``), built and loaded on first call; None when it
    cannot be built (one warning per process says why) or ``RNNKIT_NATIVE=0``."""
    if not native_enabled():
        return None
    if "ops" in _loaded:
        return _loaded["ops"]
    if "failure" in _loaded:
        return None
    try:
        ops = _build_and_load()
    except Exception as error:  # a build problem must never stop training: the Python path computes the same
        _loaded["failure"] = str(error)
        warnings.warn(f"rnnkit: the fused LayerNormLSTMCell kernel is not available ({error}); the slower Python "
                      f"path runs instead (same results). Set {ENV_SWITCH}=0 to skip the attempt.",
                      RuntimeWarning, stacklevel=3)
        return None
    _loaded["ops"] = ops
    return ops


def native_available() -> bool:
    """Whether :func:`native_ops` gives the kernel (builds it if needed)."""
    return native_ops() is not None


def build_directory() -> Path:
    """Where the extension is built: a folder per source, torch version and CPU kind under
    ``$TORCH_EXTENSIONS_DIR/rnnkit``, else the user's cache folder (``~/.cache/rnnkit/extensions``,
    ``$XDG_CACHE_HOME/rnnkit/extensions``, ``~/Library/Caches/rnnkit/extensions``, ``%LOCALAPPDATA%``)."""
    configured = os.environ.get("TORCH_EXTENSIONS_DIR")
    if configured:
        base = Path(configured).expanduser() / "rnnkit"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "rnnkit" / "extensions"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / "rnnkit" / "extensions"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnkit" / "extensions"
    return base / f"lnlstm_{_fingerprint()}"


def _compiler_flags() -> list[str]:
    if sys.platform == "win32":
        return ["/O2"]
    # -march=native: AVX2 / AVX-512 for the row loops on the machine that compiles them (the folder is per CPU
    # kind, see _fingerprint); -fopenmp-simd: the loops' `omp simd` pragmas (vectorised float sums) without OpenMP
    return ["-O3", "-march=native", "-fopenmp-simd"]


def _cpu_features() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def _fingerprint() -> str:
    digest = hashlib.sha256(SOURCE.read_bytes())
    for part in (torch.__version__, sys.version, platform.machine(), _cpu_features(), " ".join(_compiler_flags())):
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()[:16]


def _find_ninja() -> None:
    """torch runs ``ninja`` from PATH; the PyPI package puts it in the environment's scripts folder, which is not
    on PATH when Python is called by its full path (``.venv/bin/python``): add that folder."""
    if shutil.which("ninja"):
        return
    try:
        import ninja  # the PyPI package of the ninja binary
    except ImportError:
        raise RuntimeError("ninja not found: pip install ninja") from None
    os.environ["PATH"] = os.pathsep.join([ninja.BIN_DIR, os.environ.get("PATH", "")])


def _build_and_load():
    folder = build_directory()
    failed = folder / "failed.txt"
    if failed.exists():
        raise RuntimeError(f"an earlier build failed, see {failed}; delete it to try again")
    compiler = os.environ.get("CXX", "cl" if sys.platform == "win32" else "c++")
    if not shutil.which(compiler.split()[0]):
        raise RuntimeError(f"no C++ compiler: {compiler!r} not found (set CXX)")
    _find_ninja()
    folder.mkdir(parents=True, exist_ok=True)
    from torch.utils import cpp_extension  # lazily: it imports setuptools, which `import rnnkit` need not pay

    with _BuildLock(folder):
        started = time.perf_counter()
        fresh = not any(folder.glob(f"{_LIBRARY}*.so")) and not any(folder.glob(f"{_LIBRARY}*.pyd"))
        if fresh:
            print(f"rnnkit: compiling the fused LayerNormLSTMCell kernel into {folder} (once per machine, "
                  "~30-60 s)", file=sys.stderr, flush=True)
        try:
            cpp_extension.load(_LIBRARY, [str(SOURCE)], extra_cflags=_compiler_flags(), build_directory=str(folder),
                               is_python_module=False, verbose=False)
        except Exception as error:
            failed.write_text(f"{error}\n", encoding="utf-8")
            first = next((line for line in str(error).splitlines() if "error" in line.lower()), str(error))
            raise RuntimeError(f"its build failed: {first.strip()[:300]} (log: {failed})") from error
        if fresh:
            print(f"rnnkit: compiled in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return getattr(torch.ops, _LIBRARY)


class _BuildLock:
    """An OS file lock around the build: held by one process at a time, released by the OS if that process dies.

    torch's own lock (a ``lock`` file that its builder creates and deletes) stays behind when a build is killed,
    and every later build then waits on it forever; while this lock is held no other rnnkit process is building
    here, so such a file is stale and is removed.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.handle = None

    def __enter__(self):
        self.handle = open(self.folder / "rnnkit.lock", "a+")  # noqa: SIM115 (closed in __exit__)
        try:
            import fcntl
        except ImportError:  # Windows: no flock; torch's lock file alone
            return self
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        (self.folder / "lock").unlink(missing_ok=True)
        return self

    def __exit__(self, *exc_info) -> None:
        self.handle.close()  # releases the flock


class NativeLayerNormLSTMUnroll(torch.autograd.Function):
    """``(p (T, B, 4H), gamma_ih | None, beta_ih | None, weight_hh, gamma_hh, beta_hh | None, gamma_c,
    beta_c | None, h0, c0, mask | None, ragged_from, eps)`` -> ``(outputs (T, B, H), h_T, c_T)``, forward and
    backward in the C++ kernel; ``p = W_ih x``, normalised inside (or, without gamma_ih, the normalised ``x``)."""

    @staticmethod
    def forward(ctx, p, gamma_ih, beta_ih, weight_hh, gamma_hh, beta_hh, gamma_c, beta_c, h0, c0, mask, ragged_from,
                eps):
        empty, flat_mask = p.new_empty(0), _flat_mask(mask, p)
        outputs, h, c, *saved = native_ops().forward(
            p, _or(gamma_ih, empty), _or(beta_ih, empty), weight_hh, gamma_hh, _or(beta_hh, empty), gamma_c,
            _or(beta_c, empty), h0, c0, flat_mask, ragged_from, eps, True)
        # p is read again only to recompute its normalised values; without the input norm it is not needed
        ctx.save_for_backward(p if gamma_ih is not None else empty, _or(gamma_ih, empty), weight_hh, gamma_hh,
                              gamma_c, _or(beta_c, empty), h0, flat_mask, *saved)
        ctx.ragged_from = ragged_from
        return outputs, h, c

    @staticmethod
    def backward(ctx, grad_outputs: Tensor, grad_h: Tensor, grad_c: Tensor):
        p, gamma_ih, weight_hh, gamma_hh, gamma_c, beta_c, h0, flat_mask, *saved = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grads = native_ops().backward(grad_outputs, grad_h, grad_c, p, gamma_ih, weight_hh, gamma_hh, gamma_c, beta_c,
                                      h0, flat_mask, ctx.ragged_from, *saved, needs[3])
        # (dp, dW_hh, dgamma_ih, dbeta_ih, dgamma_hh, dbeta_hh, dgamma_c, dbeta_c, dh0, dc0) -> the inputs' order
        dp, dw, dgamma_ih, dbeta_ih, dgamma_hh, dbeta_hh, dgamma_c, dbeta_c, dh0, dc0 = grads
        ordered = (dp, dgamma_ih, dbeta_ih, dw, dgamma_hh, dbeta_hh, dgamma_c, dbeta_c, dh0, dc0)
        return (*(grad if wanted else None for grad, wanted in zip(ordered, needs[:10], strict=True)), None, None,
                None)


def native_lnlstm_unroll(x: Tensor, weight_hh: Tensor, gamma_hh: Tensor, beta_hh: Tensor | None, gamma_c: Tensor,
                         beta_c: Tensor | None, h0: Tensor, c0: Tensor, mask: Tensor | None = None,
                         ragged_from: int = 0, eps: float = 1e-5,
                         input_norm: tuple[Tensor, Tensor | None] | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`rnnkit.nn.lnlstm_bptt.lnlstm_unroll` in the C++ kernel (same arguments, same results); the caller
    checks :func:`native_ops` and :func:`native_supports` first.

    With ``input_norm = (gamma_ih, beta_ih)``, ``x`` is the raw projection ``W_ih x_t (T, B, 4H)`` and the kernel
    normalises it in its row loop (and differentiates the norm there): the layer's path, which saves torch's
    separate layer norm over the whole ``(T, B, 4H)`` tensor forward and backward.
    """
    gamma_ih, beta_ih = input_norm if input_norm is not None else (None, None)
    inputs = (x, gamma_ih, beta_ih, weight_hh, gamma_hh, beta_hh, gamma_c, beta_c, h0, c0)
    if torch.is_grad_enabled() and any(tensor is not None and tensor.requires_grad for tensor in inputs):
        return NativeLayerNormLSTMUnroll.apply(*inputs, mask, ragged_from, eps)
    empty = x.new_empty(0)
    outputs, h, c = native_ops().forward(*(_or(tensor, empty) for tensor in inputs), _flat_mask(mask, x),
                                         ragged_from, eps, False)
    return outputs, h, c


def _or(tensor: Tensor | None, empty: Tensor) -> Tensor:
    """The kernel's schema has no optional tensors (their C++ type changed across torch releases): empty = None."""
    return empty if tensor is None else tensor


def _flat_mask(mask: Tensor | None, x: Tensor) -> Tensor:
    if mask is None:
        return torch.empty(0, dtype=torch.bool)
    return mask.reshape(x.shape[0], x.shape[1]).to(torch.bool)  # (T, B)
