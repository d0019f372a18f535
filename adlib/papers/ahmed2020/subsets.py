"""ahmed2020's fine-grained subsets: the offline (Fashion-MNIST) analogues of the ImageNet ones.

The paper's five ILSVRC2012 subsets (Table 7) live in the manifest
``data_manifests/imagenet_subsets_ahmed2020.yaml`` and :mod:`adlib.data.imagenet_subsets`. At
``smoke``/``cpu`` scale (spec §8.1) two groups of visually similar Fashion-MNIST classes stand in
for them: "Tops" (4 members, skew 25%) and "Footwear" (3 members, skew 33.33%).
"""

from __future__ import annotations

FMNIST_CLASSES: tuple[str, ...] = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                   "Sneaker", "Bag", "Ankle boot")
"""Fashion-MNIST class names by label."""

FMNIST_SUBSETS: dict[str, tuple[int, ...]] = {"tops": (0, 2, 4, 6), "footwear": (5, 7, 9)}
"""Fashion-MNIST labels of each analogue subset: Tops = T-shirt/top, Pullover, Coat, Shirt;
Footwear = Sandal, Sneaker, Ankle boot."""

FMNIST_SUBSET_TITLES: dict[str, str] = {"tops": "Tops", "footwear": "Footwear"}


def fmnist_subset_skew(name: str) -> float:
    """AP of a random detector in percent when one member of analogue subset ``name`` is held out
    (equal test sizes per class, as in Fashion-MNIST): ``100 / K``."""
    return 100.0 / len(FMNIST_SUBSETS[name])


# --------------------------------------------------------------------------------------------
# Tables 1 and 7 from the manifest (the book page notebooks/ahmed2020/table1.ipynb)
# --------------------------------------------------------------------------------------------


def table7_frame():
    """Table 7 from the manifest: one row per member (subset, #, the paper's name, wnid), paper order."""
    import pandas as pd

    from adlib.data import imagenet_subsets as isub

    rows = [{"subset": name, "#": i + 1, "member": member, "wnid": wnid}
            for name in isub.subset_names() for i, (wnid, member) in enumerate(isub.subset_members(name))]
    return pd.DataFrame(rows)


def table1_frame(counts: dict[str, dict[str, int]] | None = None):
    """Table 1 beside the manifest: per subset, the members K and test images 50·K from the manifest,
    skew 100/K, and the paper's Table 1 sizes and Table 5/6 skews. ``counts``
    (``{subset: {"train": n, "test": n}}``, images counted in the user's ILSVRC2012) adds columns."""
    import pandas as pd

    from adlib.data import imagenet_subsets as isub
    from adlib.paper_values import load_values

    t1 = load_values("ahmed2020", "table1")
    skews = {t: load_values("ahmed2020", t).query("metric == 'Skew'").set_index("subset")["value"]
             for t in ("table5", "table6")}
    rows = []
    for name in isub.subset_names():
        title = isub.subset_title(name)
        paper = t1[t1["subset"] == title].set_index("metric")["value"]
        k = len(isub.subset_members(name))
        row = {"subset": name, "title": title, "members": k, "paper members": int(paper["Number of members"]),
               "test images (50·K)": isub.TEST_PER_MEMBER * k, "paper test images": int(paper["Total test images"]),
               "paper train images": int(paper["Total training images"]), "skew 100/K": round(isub.skew(name), 2),
               "paper skew (Table 5)": float(skews["table5"][name]), "paper skew (Table 6)": float(skews["table6"][name])}
        if counts is not None:
            row["counted train images"] = counts[name]["train"]
            row["counted test images"] = counts[name]["test"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("subset")


def subset_claims(table1, table7) -> list:
    """The claims of Tables 1 and 7 that the manifest (and, when counted, the user's ILSVRC2012) bear out."""
    from adlib.paper_values import load_values
    from adlib.report import Claim

    wnids = list(table7["wnid"])
    per_subset = table7.groupby("subset", sort=False).size()
    appendix_b = load_values("ahmed2020", "appendix_b")
    names_b = {s: list(dict.fromkeys(g.loc[g["held_out_class"] != "Mean", "held_out_class"]))
               for s, g in appendix_b.groupby("subset", sort=False)}
    names_ok = all(list(g["member"]) == names_b.get(s) for s, g in table7.groupby("subset", sort=False))
    table5 = load_values("ahmed2020", "table5")
    skew_printed = list(table5[table5.method == "Random detector"].printed)  # Table 5's skews, as printed
    claims = [
        Claim("table7", "Five fine-grained subsets of 43 distinct ILSVRC2012 classes (Dog 12, Car 10, Snake 9, "
              "Spider 6, Fungus 6), members as the paper lists them",
              len(per_subset) == 5 and len(set(wnids)) == len(wnids) == 43
              and list(per_subset) == list(table1["paper members"]) and names_ok,
              f"{len(per_subset)} subsets, {len(set(wnids))} distinct of {len(wnids)} wnids; members per subset "
              f"{'/'.join(str(int(v)) for v in per_subset)} vs Table 1 "
              f"{'/'.join(str(int(v)) for v in table1['paper members'])}; member names in Appendix B's order: "
              f"{'yes' if names_ok else 'NO'}"),
        Claim("table1", "Test set = the 50 validation images of each member: 600 / 500 / 450 / 300 / 300",
              bool((table1["test images (50·K)"] == table1["paper test images"]).all()),
              "50·K = " + " / ".join(str(v) for v in table1["test images (50·K)"]) + "; Table 1: "
              + " / ".join(str(v) for v in table1["paper test images"])),
        Claim("table1", "Skew (random-detector AP) = 100/K: " + " / ".join(skew_printed) + " as in Tables 5 and 6",
              bool((table1["skew 100/K"] == table1["paper skew (Table 5)"]).all()
                   and (table1["skew 100/K"] == table1["paper skew (Table 6)"]).all()),
              "100/K = " + " / ".join(f"{v:.2f}" for v in table1["skew 100/K"]) + "; Table 5: "
              + " / ".join(f"{v:.2f}" for v in table1["paper skew (Table 5)"]) + "; Table 6: "
              + " / ".join(f"{v:.2f}" for v in table1["paper skew (Table 6)"])),
    ]
    if "counted train images" in table1:
        same = (table1["counted train images"] == table1["paper train images"]) & (
            table1["counted test images"] == table1["paper test images"])
        claims.append(Claim(
            "table1", "The subsets of ILSVRC2012 have Table 1's sizes (train 14864 / 13000 / 11700 / 7800 / 7800)",
            bool(same.all()),
            "counted train " + " / ".join(str(v) for v in table1["counted train images"]) + ", test "
            + " / ".join(str(v) for v in table1["counted test images"]) + " in this ILSVRC2012"))
    else:
        claims.append(Claim("table1", "The subsets of ILSVRC2012 have Table 1's sizes (train 14864 / 13000 / 11700 / "
                            "7800 / 7800)", None,
                            "needs the user's ILSVRC2012 (scale paper); not counted at this scale"))
    return claims


def sample_grid(images, labels, class_names, per_class: int, title: str, seed: int = 0):
    """A figure with ``per_class`` images of every class in ``class_names`` (a dict label -> name),
    one row per class, picked at random with ``seed``; ``images`` uint8 ``(N, H, W)`` or ``(N, 3, H, W)``."""
    import matplotlib.pyplot as plt
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    fig, axes = plt.subplots(len(class_names), per_class, figsize=(1.3 * per_class, 1.35 * len(class_names)),
                             squeeze=False)
    for row, (label, name) in enumerate(class_names.items()):
        idx = np.flatnonzero(labels == label)
        pick = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        for col in range(per_class):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(pick):
                img = np.asarray(images[pick[col]])
                ax.imshow(img.transpose(1, 2, 0) if img.ndim == 3 else img, cmap=None if img.ndim == 3 else "gray")
            if col == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
