"""Study S2: the information plane with adaptive estimators (Chelombiev, Houghton, O'Donnell 2019).

``estimate``: the configured estimators over every snapshot and layer of one run (the estimators
of one layer are in :mod:`layerinfo.information`). ``compression``: compression per layer and its
correlation with generalisation. ``plots``: information planes, training curves, compression.
"""
