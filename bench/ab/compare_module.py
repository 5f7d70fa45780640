"""For the scripts of bench/ab: bench/ on the import path, and bench/compare (a script
without a .py name) loaded as the module `compare`."""
import importlib.machinery
import importlib.util
import os
import sys

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)


def load():
    loader = importlib.machinery.SourceFileLoader("compare", os.path.join(BENCH, "compare"))
    spec = importlib.util.spec_from_loader("compare", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
