"""Benchmarks of the invariants library (scripts, run with ``python -m benchmarks.<name>``).

The package sets one BLAS/OpenMP thread before any benchmark module imports
numpy (``python -m benchmarks.<name>`` imports this package first), so that the
timings are single-threaded and comparable; the scripts do not repeat it.
"""

import os

for _var in (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"
