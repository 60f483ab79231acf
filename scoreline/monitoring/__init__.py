"""Drift and live accuracy.

Reference profile contract (stored inside every model, built from the training features by
``scoreline.ml.profile.build_reference_profile``)::

    {
      "numeric": {feature: {"edges": [q0..q10], "fractions": [10 floats], "mean": m, "std": s,
                            "sample": [<=1000 values]}},
      "categorical": {feature: {value: frequency}},
      "prediction": {label: frequency},   # predicted-class distribution on the holdout
      "rows": n
    }
"""
