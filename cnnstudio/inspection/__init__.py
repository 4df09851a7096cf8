"""What the network learned, Qt-free: attribution maps, what each filter wants, training replay,
adversarial nudges and the digit space.  Each module computes from a ``Network`` and images; the
views in ``qt/inspection/`` show the results on the current drawing and network, live.
"""
