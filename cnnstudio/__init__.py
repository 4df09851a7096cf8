"""CNN Studio: a desktop playground for understanding convolutional neural networks."""
import os

# Numba caches compiled kernels beside their source; when the package is installed read-only,
# keep the cache in the user's cache folder instead (it must be set before Numba is imported).
if "NUMBA_CACHE_DIR" not in os.environ and not os.access(os.path.dirname(__file__), os.W_OK):
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "cnnstudio", "numba")
