"""Pure numpy/numba kernels: no Django import. numba is imported only in _numba.py."""
