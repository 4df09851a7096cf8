"""CNN Studio: a desktop playground for understanding convolutional neural networks."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cnnstudio")
except PackageNotFoundError:  # run from a source tree that was never installed: pyproject.toml's version
    __version__ = "0.1.0"
