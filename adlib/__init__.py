"""adlib: the library behind adlib-book, a reproducible companion to five deep anomaly detection papers.

Conventions used everywhere in this package:

* Every anomaly score is *higher = more anomalous*.
* Every metric names its positive class explicitly (``positive="anomalous"`` by default).
* Runs are identified by the SHA-256 of their full configuration (:mod:`adlib.results`).
"""

__version__ = "0.1.0"
