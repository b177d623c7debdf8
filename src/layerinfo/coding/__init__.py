"""Study S4: coding schemes of Bayesian feature-learning networks (van Meegen & Sompolinsky 2025).

``tasks``: the toy task and dataset subsets. ``units``: nonlinearities, scalings and a NumPy
forward pass (torch-free). ``langevin``: posterior sampling of wide networks.
``kernels``: closed-form NNGP kernels, the lazy GP, kernel alignment. ``schemes``: measures of
population codes (outliers, on/off patterns). ``diagnostics``: convergence on permutation-invariant
statistics. ``posterior``: sampling a run and its HDF5 file. ``study``: every measure of a run, the
workflow's tables. ``claims``: every criterion. ``plots``: the figures.
"""
