"""Product generation: kernels (pure numba), products (DB <-> kernels), tasks (Celery)."""

__version__ = "0.1.0"
