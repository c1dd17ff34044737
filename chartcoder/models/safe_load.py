"""Unpickling a pack's ranker with an allow-list of types, so a pack cannot run code when it is loaded.

A pickle names the callables that rebuild its objects (`module.name`), and a plain unpickler imports
and calls whatever it names: `os.system`, `builtins.eval`, `subprocess.Popen`. This unpickler resolves
only what a ranker is made of: our ranker classes, scikit-learn's estimator classes, SciPy's sparse
matrices, NumPy's arrays, scalars, dtypes and random generators, and a few plain containers. Anything
else, including a name with a dot in it (an attribute path such as `Cls.__init__.__globals__`), is
refused with a PackError before it is imported. Module names are checked before anything is imported,
so naming a module with import-time side effects does nothing either.

It reads joblib's format (zlib/gzip/... compressed pickles with arrays stored beside the pickle
stream) through joblib's own NumpyUnpickler, so existing packs load unchanged; arrays of Python
objects (a nested pickle stream) go through the same allow-list.

skops (skops.io with trusted types) was considered: it is not installed here, it would change the pack
format (every existing pack would still need this path), and our ranker classes would have to be
trusted by name there as well; see docs/models.md.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from joblib import numpy_pickle
from joblib.numpy_pickle_utils import _validate_fileobject_and_memmap

from chartcoder.models.pack import PackError

# Exact (module, name) pairs that are functions, not classes: NumPy's pickle helpers and ours.
_FUNCTIONS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("copyreg", "_reconstructor"),
    # The character vectorizer's analyzer (pure text -> grams), where packs made after the ranker became a
    # package name it, and where packs made before name it (the package re-exports it).
    ("chartcoder.models.ranker.vectorize", "char_grams"),
    ("chartcoder.models.ranker", "char_grams"),
}
_BUILTINS = {
    ("builtins", n)
    for n in ("set", "frozenset", "slice", "range", "complex", "bytearray", "bytes", "object", "list", "dict", "tuple")
} | {("collections", n) for n in ("OrderedDict", "defaultdict", "Counter", "deque")}
# Our classes a pack holds, by the module that defines them. A pickle may name each there, or (packs
# made before the ranker became a package) as `chartcoder.models.ranker.<name>`, which re-exports it.
_OUR_CLASSES = {
    ("chartcoder.models.ranker.estimator", "CodeRanker"),
    ("chartcoder.models.ranker.evidence", "EvidenceIndex"),
    ("chartcoder.models.stacked", "StackedRanker"),
}
_PACKAGE = "chartcoder.models.ranker"
_OUR_MODULES = {module for module, _ in _OUR_CLASSES} | {_PACKAGE}
_JOBLIB = {("joblib.numpy_pickle", "NumpyArrayWrapper")}
# Parts of module paths never imported: test helpers, build tooling (numpy.distutils runs commands);
# sklearn's joblib wrappers (sklearn.utils.parallel.Parallel runs the tasks it is called with) likewise.
_NEVER = {"tests", "testing", "_testing", "conftest", "distutils", "f2py", "__main__", "_build_utils", "parallel"}
_NEVER |= {"_joblib", "externals", "_show_versions", "datasets"}


def _module_ok(module: str) -> bool:
    parts = module.split(".")
    if not all(p.isidentifier() for p in parts) or _NEVER & set(parts):
        return False
    return parts[0] in ("numpy", "scipy", "sklearn") or module in _OUR_MODULES


def _class_ok(module: str, obj: Any) -> bool:
    """A class from an allowed module that is one of the kinds a ranker holds."""
    if not isinstance(obj, type):
        return False
    top = module.split(".")[0]
    if module in _OUR_MODULES:
        # One of our pack classes, by where it is defined: not something the module imported.
        return (obj.__module__, obj.__qualname__) in _OUR_CLASSES and (module == obj.__module__ or module == _PACKAGE)
    if top == "sklearn":
        # Where the class is defined, not only the module the pickle names: sklearn.calibration imports
        # Parallel from sklearn.utils.parallel, and the name a pickle uses must not launder it.
        return obj.__module__.startswith("sklearn.") and _module_ok(obj.__module__)
    if top == "numpy":
        import numpy as np

        return (
            obj is np.ndarray  # not subclasses: np.memmap opens files
            or issubclass(obj, (np.generic, np.dtype))
            or issubclass(obj, (np.random.BitGenerator, np.random.Generator, np.random.RandomState))
        )
    if top == "scipy":
        import scipy.sparse as sp

        return issubclass(obj, (sp.spmatrix, sp.sparray))
    return False


def allowed(module: str, name: str, resolve: Any) -> Any:
    """The object `module.name` names when the allow-list admits it; else a PackError. `resolve` is
    the unpickler's own lookup, called only after the names passed."""
    pair = (module, name)
    if pair in _FUNCTIONS or pair in _BUILTINS or pair in _JOBLIB:
        return resolve(module, name)
    if not name.isidentifier() or name.startswith("__") or not _module_ok(module):
        raise PackError(f"the pack's ranker names {module}.{name}, which a model pack may not hold")
    obj = resolve(module, name)
    if not _class_ok(module, obj):
        raise PackError(f"the pack's ranker names {module}.{name}, which a model pack may not hold")
    return obj


class _Plain(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """The nested stream of an array of Python objects, under the same allow-list."""

    def find_class(self, module: str, name: str) -> Any:
        return allowed(module, name, super().find_class)


class _PackUnpickler(numpy_pickle.NumpyUnpickler):  # type: ignore[misc]
    dispatch = numpy_pickle.NumpyUnpickler.dispatch.copy()

    def find_class(self, module: str, name: str) -> Any:
        return allowed(module, name, super().find_class)

    def persistent_load(self, pid: Any) -> Any:
        raise PackError("the pack's ranker holds a persistent reference, which a model pack may not hold")

    def load_build(self) -> None:
        # joblib stores each array as a NumpyArrayWrapper followed by its bytes. An array of Python
        # objects is a nested pickle stream: read it here with the allow-list whatever joblib version
        # is installed (older ones read it with a plain unpickler).
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
        top = self.stack[-1]
        if isinstance(top, numpy_pickle.NDArrayWrapper):
            raise PackError("the pack's ranker is in joblib's pre-0.10 format; retrain it with `chartcoder train`")
        if isinstance(top, numpy_pickle.NumpyArrayWrapper):
            wrapper = self.stack.pop()
            if wrapper.dtype.hasobject:
                array = _Plain(self.file_handle).load()
                if not isinstance(array, self.np.ndarray):
                    raise PackError("the pack's ranker holds a malformed array")
            else:
                array = wrapper.read(self, self.ensure_native_byte_order)
            self.stack.append(array)

    dispatch[pickle.BUILD[0]] = load_build


def load_ranker_bytes(data: bytes, name: str) -> Any:
    """Unpickle a joblib file's bytes (already checked against the signed manifest) with the allow-list."""
    with _validate_fileobject_and_memmap(io.BytesIO(data), name, None) as (fobj, _):
        if isinstance(fobj, str):
            raise PackError(f"{name}: joblib's pre-0.10 format; retrain the pack with `chartcoder train`")
        try:
            return _PackUnpickler(name, fobj, ensure_native_byte_order=True).load()
        except PackError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as exc:
            raise PackError(f"{name}: not a readable ranker ({type(exc).__name__}: {exc})") from exc
