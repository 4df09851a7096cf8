"""CNN Studio's numerical engine: NumPy + Numba only, float32, forward and backward.

No Qt, no files, nothing of ours is imported here.
"""
from .activations import activation_backward, activation_forward, relu_backward, relu_forward
from .colorize import colorize_maps
from .conv import conv2d_backward, conv2d_forward, conv_geometry
from .dense import dense_backward, dense_forward, flatten, softmax, softmax_cross_entropy
from .gradients import InputGradients, input_gradients
from .features import last_hidden_features
from .network import ForwardTrace, Network, StageMaps, default_layers
from .optim import SGD, Adam, glorot_init, he_init
from .pooling import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .threads import engine_threads, set_engine_threads, training_threads
from .shapes import (ConvSpec, DenseSpec, LayerReport, StageGeometry, conv_output_size, resolve_padding,
                     same_padding, spec_from_dict, spec_to_dict, validate_layers)

__all__ = [
    "activation_backward", "activation_forward", "relu_backward", "relu_forward",
    "conv2d_backward", "conv2d_forward", "conv_geometry",
    "dense_backward", "dense_forward", "flatten", "softmax", "softmax_cross_entropy",
    "InputGradients", "input_gradients", "last_hidden_features",
    "ForwardTrace", "Network", "StageMaps", "default_layers",
    "SGD", "Adam", "glorot_init", "he_init",
    "avgpool2d_backward", "avgpool2d_forward", "maxpool2d_backward", "maxpool2d_forward",
    "colorize_maps",
    "ConvSpec", "DenseSpec", "LayerReport", "StageGeometry", "conv_output_size", "resolve_padding", "same_padding",
    "spec_from_dict", "spec_to_dict", "validate_layers",
    "engine_threads", "set_engine_threads", "training_threads",
]
