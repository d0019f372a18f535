"""Training losses. Each function documents the equation of the paper it implements."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def uniform_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy from the uniform distribution U to the softmax, H(U; p).

    hendrycks2019 §4.3: H(U; f(x)) = -(1/k) Σ_c log f_c(x) = logsumexp(z) - mean_c(z).
    It is minimal (= log k) when all logits are equal.
    """
    return torch.logsumexp(logits, dim=1) - logits.mean(dim=1)


def outlier_exposure_loss(
    logits_in: torch.Tensor,
    targets: torch.Tensor,
    logits_oe: torch.Tensor | None,
    oe_weight: float = 0.5,
) -> torch.Tensor:
    """Outlier Exposure objective for a k-way classifier (hendrycks2019 §4.3).

    E_{(x,y)~D_in}[-log f_y(x)] + λ · E_{x'~D_out^OE}[H(U; f(x'))], with λ = 0.5 for vision
    and 1.0 for NLP in the paper. With ``logits_oe=None`` (or λ = 0) it is plain cross-entropy.
    """
    loss = F.cross_entropy(logits_in, targets)
    if logits_oe is not None and oe_weight != 0 and len(logits_oe) > 0:
        loss = loss + oe_weight * uniform_cross_entropy(logits_oe).mean()
    return loss
