"""Study S1: resolution and relevance of layer states (Song, Marsili & Jo 2018).

``rbm``: restricted Boltzmann machines and the deep belief network. ``study``: training, layer
states, generation and the workflow's tables (H[s], H[k] and the Zipf fit themselves are in
:mod:`layerinfo.information.relevance`). ``plots``: their figures.
"""
