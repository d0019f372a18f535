"""Recurrent text models of hendrycks2019's NLP experiments (§4.3, §4.4; spec §2.8, §2.9).

* ``gru_classifier``: the official NLP classifier, Embedding(V, 50, padding_idx) → GRU (2 layers,
  hidden 128, unidirectional, batch_first) → Linear(128 → k) on h_n of the last layer.
* ``gru_lm``: a small next-token language model, Embedding → GRU → Linear(hidden → V), run on
  fixed-length sequences with no hidden state carried across sequences (§4.4: a retained
  state would make OOD detection trivial). It stands in for the paper's QRNN (spec §8.1).

Token batches are int64 tensors (N, T). Unlike the image models, these take token ids, not
float images; ``features`` still returns the penultimate representation.
"""

from __future__ import annotations

import torch
from torch import nn

from adlib.models import register_model


class GRUClassifier(nn.Module):
    """Embedding → multi-layer GRU → Linear on the last layer's final hidden state h_n.

    ``forward(tokens, lengths=None)``: without ``lengths`` the GRU runs over every position, as
    the official code does with left-padded batches (torchtext ``pad_first=True``: the padding
    embedding is zero, so the pads only shape the initial state). With ``lengths`` the batch
    must be right-padded and is packed, so h_n is the state after each sequence's own last
    token and the result does not depend on the amount of padding.
    """

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 50, hidden: int = 128,
                 num_layers: int = 2, padding_idx: int | None = None) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.padding_idx = padding_idx
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.gru = nn.GRU(embed_dim, hidden, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """h_n of the last GRU layer, shape (N, hidden)."""
        emb = self.embedding(tokens)
        if lengths is not None:
            emb = nn.utils.rnn.pack_padded_sequence(emb, lengths.cpu().clamp(min=1), batch_first=True,
                                                    enforce_sorted=False)
        _, h_n = self.gru(emb)
        return h_n[-1]

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc(self.features(tokens, lengths))


class GRULanguageModel(nn.Module):
    """Next-token model: logits[:, t] = p(x_{t+1} | x_{≤t}) over ``vocab_size`` tokens.

    ``forward(tokens)`` takes (N, T) ids in ``0 .. vocab_size`` (id ``vocab_size`` is the
    beginning-of-sequence token, which the output layer does not predict) and returns
    (N, T, vocab_size) logits. Every sequence starts from the zero state.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden: int = 128, num_layers: int = 1) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.bos = vocab_size
        self.embedding = nn.Embedding(vocab_size + 1, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden, vocab_size)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embedding(tokens))
        return out

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(tokens))

    def with_bos(self, tokens: torch.Tensor) -> torch.Tensor:
        """Inputs for predicting every token of ``tokens``: BOS, x_1 .. x_{T-1}."""
        bos = torch.full((len(tokens), 1), self.bos, dtype=tokens.dtype, device=tokens.device)
        return torch.cat([bos, tokens[:, :-1]], dim=1)


@register_model("gru_classifier")
def gru_classifier(vocab_size: int, num_classes: int, embed_dim: int = 50, hidden: int = 128,
                   num_layers: int = 2, padding_idx: int | None = None) -> GRUClassifier:
    """hendrycks2019 NLP classifier (§4.3; official ``train.py``): embedding 50, 2 × GRU 128."""
    return GRUClassifier(vocab_size, num_classes, embed_dim, hidden, num_layers, padding_idx)


@register_model("gru_lm")
def gru_lm(vocab_size: int, embed_dim: int = 64, hidden: int = 128, num_layers: int = 1) -> GRULanguageModel:
    """A GRU language model standing in for the paper's QRNN (§4.4; spec §8.1 Table 6 plan)."""
    return GRULanguageModel(vocab_size, embed_dim, hidden, num_layers)
