"""Study S4: coding schemes of Bayesian feature-learning networks (van Meegen & Sompolinsky 2025).

``tasks``: the toy task and dataset subsets. ``units``: nonlinearities, scalings and a NumPy
forward pass (torch-free). ``langevin``: posterior sampling of wide networks.
``kernels``: closed-form NNGP kernels, the lazy GP, kernel alignment. ``schemes``: population
codes and the scheme classifier. ``posterior``: sampling a run and its HDF5 file. ``study``: the
workflow's tables. ``plots``: their figures.
"""
