"""Study S3: deep networks at initialisation as noisy channels, and dynamical isometry.

``meanfield``: length and correlation maps, chi_1, depth scales, the critical line.
``networks``: random deep networks, Jacobian spectra, the noisy channel and its linearisation.
``study``: the tables of the workflow. ``plots``: their figures.
"""
