"""CNN Studio: a desktop playground for understanding convolutional neural networks."""
