"""The messages of Go runtime panics, as text/template reports them.

Many Sprig functions do not check their input: they index a slice, slice a string or call a
method on a nil interface, and the Go runtime panics. text/template recovers the panic and
reports ``error calling NAME: <panic message>``, so a template that worked by accident, or
failed, under Vault Agent must see the same message here.
"""

from __future__ import annotations

from s4e_secret_agent.template.signature import FuncError

NIL_DEREFERENCE = "runtime error: invalid memory address or nil pointer dereference"
INTEGER_DIVIDE_BY_ZERO = "runtime error: integer divide by zero"
MAKESLICE_LEN = "runtime error: makeslice: len out of range"


def nil_dereference() -> FuncError:
    return FuncError(NIL_DEREFERENCE)


def index_out_of_range(index: int, length: int) -> FuncError:
    if index < 0:
        return FuncError(f"runtime error: index out of range [{index}]")
    return FuncError(f"runtime error: index out of range [{index}] with length {length}")


def check_slice(low: int, high: int | None, length: int, *, string: bool = True) -> None:
    """Go's bounds check for ``s[low:high]`` (``high`` None: ``s[low:]``)."""
    if high is not None:
        if high < 0:
            raise FuncError(f"runtime error: slice bounds out of range [:{high}]")
        if high > length:
            what = "length" if string else "capacity"
            raise FuncError(f"runtime error: slice bounds out of range [:{high}] with "
                            f"{what} {length}")
    else:
        high = length
    if low < 0:
        raise FuncError(f"runtime error: slice bounds out of range [{low}:]")
    if low > high:
        raise FuncError(f"runtime error: slice bounds out of range [{low}:{high}]")


def interface_conversion(got: str, want: str) -> FuncError:
    """A failed type assertion ``x.(T)`` on an ``interface {}``."""
    if got == "<nil>":
        return FuncError(f"interface conversion: interface {{}} is nil, not {want}")
    return FuncError(f"interface conversion: interface {{}} is {got}, not {want}")
