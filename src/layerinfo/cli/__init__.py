"""The ``layerinfo`` command: record any torch model's layers, import activations, estimate
with intervals, plot. Over the core (h5io, information) and the information-plane study's
estimate and plot code; never the workflow package. Entry point: :func:`layerinfo.cli.main.main`.
"""
