"""layerinfo: measuring information in deep-network representations."""

__version__ = "0.1.0"
