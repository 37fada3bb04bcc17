"""Great Expectations imported without loading, at its import, two libraries only one of its
expectations uses.

GX imports every expectation class when it is imported, and one of them (the KL divergence
expectation, which no suite here uses) imports scipy.stats and altair at the top of its module.
Those two are a fifth of GX's import, 0.2 s of a run's CPU. Until GX's import is done they stand
in sys.modules as `DeferredModule`s: the first attribute read from one imports the real module,
so anything that does use them (such an expectation added to a suite, or any other code) gets
them as usual.
"""

import importlib
import importlib.util
import sys
import threading
import types

DEFERRED = ("scipy.stats", "altair")
_lock = threading.RLock()


class DeferredModule(types.ModuleType):
    """Stands for a module not imported yet; its first attribute read imports it. It carries the
    module's real spec, so the import system takes it for a module already imported."""

    def __init__(self, name: str, spec) -> None:
        super().__init__(name)
        self.__spec__ = spec

    def __getattr__(self, attribute: str):
        return getattr(self.load(), attribute)

    def load(self) -> types.ModuleType:
        with _lock:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            module = importlib.import_module(self.__name__)
        # later reads of names GX bound to the stand-in find them without this method
        self.__dict__.update({k: v for k, v in module.__dict__.items() if k != "__spec__"})
        return module


def import_great_expectations() -> types.ModuleType:
    """`import great_expectations`, with DEFERRED standing in until it is used."""
    with _lock:
        if "great_expectations" not in sys.modules:
            for name in DEFERRED:
                if name not in sys.modules and (spec := importlib.util.find_spec(name)) is not None:
                    sys.modules[name] = DeferredModule(name, spec)
        return importlib.import_module("great_expectations")
