"""singh2021: Singh, Luo, Li, "Generalized Anomaly Detection" (DeepMAD).

* :mod:`~adlib.papers.singh2021.protocol`: the multi-class-normal combinations and the Tables 2/3
  aggregation (per-combination mean over seeds, min/max with 95% CIs, mean over combinations);
* :mod:`~adlib.papers.singh2021.experiments`: configs at smoke/cpu/paper scale and the runner for
  DROCC, DROCC(m), DeepSVDD, DeepSVDD(m) and DeepMAD, with per-class units shared across combinations;
* :mod:`~adlib.papers.singh2021.features`: §5.1's per-class score CDFs and per-dimension KS table;
* :mod:`~adlib.papers.singh2021.theory`: the Dempster–Shafer combination (Eqs. (1)–(4)) and a
  simulation of Lemma 3.1 / Corollary 3.1.1;
* ``values/``: the paper's numbers (Tables 2–22, Figure 4).
"""
