"""Pictures as arrays, without Qt: decoding files, grey conversion, resampling, MNIST framing.

The floor under the canvas model and the command line's ``predict``: NumPy and
Pillow only, so a picture gives the network the same input in the window and
in a terminal without a display.

- ``files``     ``read_rgba(path)``: a file as uint8 RGBA ``(H, W, 4)``, or an ``ImageFileError``
- ``gray``      ``to_gray``: the one place pixels become the canvas's grey
- ``resample``  ``resample`` and ``fit_into``: area average down, bilinear up
- ``framing``   ``mnist_framing``: a drawing framed as MNIST framed its digits
"""
