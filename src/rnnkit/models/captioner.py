r"""An image captioner: the lecture's one-to-many shape (an image in, a sentence out).

::

    image (B, 3, S, S) ─CNN encoder─▶ grid a_1..a_L (B, L, D)  (L = (S / 2^blocks)^2 positions)
                                        │ mean ā                       │ (with attention)
                                        ▼                              ▼
                          h_0 = tanh(W_h ā + b_h)          z_t = β_t Σ_i α_ti a_i,   α_t = softmax_i(e_ti)
                          c_0 = tanh(W_c ā + b_c)          e_ti = v^T tanh(W_a a_i + U_a h_{t-1}),
                                        │                  β_t = σ(W_β h_{t-1} + b_β)      (the gate)
                                        ▼                              │
    y_{t-1} ─Embedding─ E y_{t-1} ──▶ [E y_{t-1}; z_t] ──▶ LSTM (h_{t-1}, c_{t-1} -> h_t, c_t) ──Linear─▶ logits

Without attention (Show and Tell, Vinyals et al. 2015) the image reaches the decoder only through its initial
state, from the mean of the grid; with attention (Show, Attend and Tell, Xu et al. 2015; soft, deterministic
attention) every step also reads a gated, attention-weighted sum of the grid. Training adds Xu et al.'s doubly
stochastic regulariser, which pushes each grid position to be looked at about once over the caption::

    loss = - sum_t log p(y_t | y_<t, image)  +  λ sum_i (1 - sum_t α_ti)^2        (t over the caption's real steps)

The encoder is a small CNN trained from scratch: ``encoder_blocks`` blocks of ``encoder_convs`` 3x3 convolutions
(ReLU) and a 2x2 max-pool, then a 1x1 convolution to ``feature_size`` channels and a LayerNorm of each grid
vector. No BatchNorm, so that an image's features never depend on the other images of its batch (data-parallel
ranks agree with one process, and evaluation equals training mode); and no GroupNorm inside the blocks, which
(normalising each image's feature maps) washed out the colour of large regions: on the tiny test set of coloured
shapes the captioner without attention could no longer tell red from blue.

``encoder="resnet18"|"resnet50"`` puts torchvision's ResNet in place of the small CNN (rebuilt in plain torch under
torchvision's parameter names, :mod:`rnnkit.models.resnet`): its last feature map (stride 32: a 4x4 grid for
128-pixel images) then the same 1x1 convolution and LayerNorm. ``pretrained`` starts it from torchvision's
ImageNet weights (the task loads them, :func:`~rnnkit.models.resnet.load_pretrained_resnet`; the default
``--mean`` / ``--std`` are ImageNet's, which these weights expect) and ``freeze_encoder`` keeps the backbone fixed: no
gradient, and its BatchNorm layers keep their running statistics in training too. A trained ResNet's BatchNorm
statistics are per batch in training, so data-parallel ranks see slightly different normalisations than one
process would (the small CNN has no BatchNorm for that reason).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn import LSTM
from ..nn.attention import Attention, Memory
from ..nn.recurrent import BACKENDS
from ..train.config import setting
from .config_fields import BACKEND_HELP, DictConfig, check_choice, check_flag, check_integer, check_probability
from .resnet import RESNETS, ResNet

State = tuple[Tensor, Tensor]  # (h, c), each (1, B, H)
ENCODERS = ("cnn", *RESNETS)


@dataclass(frozen=True)
class CaptionerConfig(DictConfig):
    """Hyperparameters of :class:`Captioner`.

    Attributes:
        encoder: ``"cnn"`` (the small CNN from scratch), ``"resnet18"`` or ``"resnet50"`` (torchvision's ResNet).
        pretrained: start the ResNet from torchvision's ImageNet weights (the user's torch hub cache, or a download).
        freeze_encoder: keep the ResNet's weights and BatchNorm statistics fixed in training.
        encoder_width: channels of the first CNN block; each further block doubles them.
        encoder_blocks: CNN blocks, each halving the grid (64x64 images, 3 blocks: an 8x8 grid).
        encoder_convs: 3x3 convolutions (each with a ReLU) per block, before its max-pool.
        feature_size: D, the size of each grid vector.
        embedding_size: E, the word embedding size.
        hidden_size: H, the LSTM's hidden units.
        attention: attend over the grid at every step (Show, Attend and Tell); else the image only sets h_0, c_0.
        attention_size: hidden units of the additive attention score (default ``hidden_size``).
        doubly_stochastic: λ of the attention regulariser (0: off).
        dropout: dropout on the embeddings and before the output layer.
        backend: the LSTM implementation (see :class:`rnnkit.nn.LSTM`).
    """

    encoder: str = setting("cnn", choices=ENCODERS,
                           help="image encoder: a small CNN from scratch, or torchvision's ResNet-18/50 architecture")
    pretrained: bool = setting(False, help="ResNet: start from torchvision's ImageNet weights (torch hub cache)")
    freeze_encoder: bool = setting(False, help="ResNet: keep the encoder's weights and BatchNorm statistics fixed")
    encoder_width: int = setting(32, help="channels of the CNN encoder's first block (doubled per block)")
    encoder_blocks: int = setting(3, help="CNN encoder blocks; each halves the feature grid")
    encoder_convs: int = setting(2, help="3x3 convolutions per CNN encoder block")
    feature_size: int = setting(256, help="size of each feature vector of the image grid")
    embedding_size: int = setting(128, help="word embedding size")
    hidden_size: int = setting(256, help="LSTM decoder hidden units")
    attention: bool = setting(False, help="attend over the image grid at every word (Show, Attend and Tell)")
    attention_size: int | None = setting(None, help="hidden units of the attention score (unset: --hidden-size)")
    doubly_stochastic: float = setting(1.0, help="weight of the doubly stochastic attention regulariser")
    dropout: float = setting(0.3, help="dropout on word embeddings and before the output layer")
    backend: str = setting("auto", choices=BACKENDS, help=BACKEND_HELP)

    def __post_init__(self) -> None:
        check_choice("encoder", self.encoder, ENCODERS)
        for name in ("pretrained", "freeze_encoder"):
            check_flag(name, getattr(self, name))
            if getattr(self, name) and self.encoder == "cnn":
                raise ValueError(f"{name}: got True with encoder 'cnn'; expected encoder 'resnet18' or 'resnet50' "
                                 "(the small CNN has no pretrained weights)")
        for name in ("encoder_width", "encoder_blocks", "encoder_convs", "feature_size", "embedding_size",
                     "hidden_size"):
            check_integer(name, getattr(self, name))
        if self.attention_size is not None:
            check_integer("attention_size", self.attention_size)
        if isinstance(self.doubly_stochastic, bool) or not isinstance(self.doubly_stochastic, int | float) \
                or not self.doubly_stochastic >= 0:
            raise ValueError(f"doubly_stochastic: got {self.doubly_stochastic!r}; expected a number >= 0")
        check_probability("dropout", self.dropout)
        check_choice("backend", self.backend, BACKENDS)


class ConvEncoder(nn.Module):
    """A small CNN from scratch: ``images (B, 3, S, S)`` -> grid ``(B, L, D)``, L = (S / 2^blocks)^2."""

    def __init__(self, width: int, blocks: int, feature_size: int, convs: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels_in = 3
        for block in range(blocks):
            channels = width * 2 ** block
            for conv in range(convs):
                layers += [nn.Conv2d(channels if conv else channels_in, channels, 3, padding=1),
                           nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2))
            channels_in = channels
        layers.append(nn.Conv2d(channels_in, feature_size, 1))
        self.layers = nn.Sequential(*layers)
        # each grid vector at unit scale: unnormalised features grow large and saturate tanh(W_h ā) at once,
        # which gives every image the same initial state (and no gradient to tell them apart)
        self.norm = nn.LayerNorm(feature_size)

    def forward(self, images: Tensor) -> Tensor:
        grid = self.layers(images)  # (B, D, S', S')
        return self.norm(grid.flatten(2).transpose(1, 2))  # (B, L, D)


class ResNetEncoder(nn.Module):
    """torchvision's ResNet, then a 1x1 convolution and a LayerNorm: ``images (B, 3, S, S)`` -> ``(B, L, D)``,
    L = (S / 32)^2. ``freeze``: the backbone gets no gradient and its BatchNorm keeps its running statistics."""

    def __init__(self, name: str, feature_size: int, freeze: bool = False) -> None:
        super().__init__()
        self.backbone = ResNet(name)
        self.freeze = freeze
        if freeze:
            self.backbone.requires_grad_(False)
        self.projection = nn.Conv2d(self.backbone.output_channels, feature_size, 1)
        self.norm = nn.LayerNorm(feature_size)

    def train(self, mode: bool = True) -> ResNetEncoder:
        super().train(mode)
        if self.freeze:
            self.backbone.eval()  # fixed BatchNorm statistics: a frozen encoder is the same function in training
        return self

    def forward(self, images: Tensor) -> Tensor:
        grid = self.projection(self.backbone(images))  # (B, D, S/32, S/32)
        return self.norm(grid.flatten(2).transpose(1, 2))  # (B, L, D)


@dataclass
class EncodedImages:
    """What the decoder reads from a batch of images: the grid (and its attention memory)."""

    grid: Tensor  # (B, L, D)
    memory: Memory | None  # with attention: the grid, its projected keys, an all-true mask
    lengths: Tensor  # (B,): unused by the captioner; beam search reads length limits from it

    def select(self, index: Tensor) -> EncodedImages:
        """Rows ``index`` of every tensor (one image per caption, or per beam)."""
        memory = None if self.memory is None else Memory(*(part.index_select(0, index) for part in self.memory))
        return EncodedImages(self.grid.index_select(0, index), memory, self.lengths.index_select(0, index))


def select_rows(state: State, index: Tensor) -> State:
    """Rows ``index`` (batch axis 1) of an LSTM state ``(h, c)``."""
    return tuple(part.index_select(1, index) for part in state)  # type: ignore[return-value]


class Captioner(nn.Module):
    """CNN encoder and LSTM decoder, with optional soft attention (see the module docstring).

    Call: ``model(images (B, 3, S, S), inputs (N, T), owner (N,))`` -> logits ``(N, T, V)`` and attention
    weights ``(N, T, L)`` (None without attention); caption n belongs to image ``owner[n]``.
    """

    def __init__(self, vocab_size: int, config: CaptionerConfig | None = None, pad_id: int = 0) -> None:
        super().__init__()
        config = config or CaptionerConfig()
        self.config = config
        D, E, H = config.feature_size, config.embedding_size, config.hidden_size
        self.encoder = (ConvEncoder(config.encoder_width, config.encoder_blocks, D, config.encoder_convs)
                        if config.encoder == "cnn" else ResNetEncoder(config.encoder, D, config.freeze_encoder))
        self.embedding = nn.Embedding(vocab_size, E, padding_idx=pad_id)
        self.init_h, self.init_c = nn.Linear(D, H), nn.Linear(D, H)
        self.attention = Attention("additive", H, D, config.attention_size) if config.attention else None
        self.gate = nn.Linear(H, D) if config.attention else None  # β_t
        self.decoder = LSTM(E + (D if config.attention else 0), H, backend=config.backend)
        self.output = nn.Linear(H, vocab_size)
        self.dropout = nn.Dropout(config.dropout)

    def encode(self, images: Tensor) -> tuple[EncodedImages, State]:
        """The grid of ``images (B, 3, S, S)`` and the decoder's initial state from its mean (Show and Tell)."""
        grid = self.encoder(images)  # (B, L, D)
        mean = grid.mean(dim=1)  # (B, D)
        state = (torch.tanh(self.init_h(mean)).unsqueeze(0), torch.tanh(self.init_c(mean)).unsqueeze(0))
        memory = None
        if self.attention is not None:
            memory = self.attention.prepare(grid, torch.ones(grid.shape[:2], dtype=torch.bool, device=grid.device))
        lengths = torch.zeros(grid.shape[0], dtype=torch.long, device=grid.device)
        return EncodedImages(grid, memory, lengths), state

    def _lstm_step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One step of the decoder LSTM on its own weights: ``x (N, E[+D])`` -> h_t ``(N, H)``, new state."""
        decoder = self.decoder
        h, c = state[0][0], state[1][0]
        if decoder.uses_fused:
            h, c = torch.lstm_cell(x, (h, c), decoder.weight_ih_l0, decoder.weight_hh_l0, decoder.bias_ih_l0,
                                   decoder.bias_hh_l0)
        else:
            cell = decoder.cells[0]
            h, (h, c) = cell.step(cell.input_projection(x), (h, c))
        return h, (h.unsqueeze(0), c.unsqueeze(0))

    def step(self, tokens: Tensor, state: State, encoded: EncodedImages) -> tuple[Tensor, State, Tensor | None]:
        """One decoder step from the previous words ``(N,)``: h_t ``(N, H)``, the new state, and the attention
        weights ``(N, L)`` (None without attention). ``logits(h_t)`` scores the next word."""
        x = self.dropout(self.embedding(tokens))  # E y_{t-1}: (N, E)
        weights = None
        if self.attention is not None:
            previous = state[0][0]  # h_{t-1}: (N, H)
            context, weights = self.attention(previous, encoded.memory)  # (N, D), (N, L)
            x = torch.cat([x, torch.sigmoid(self.gate(previous)) * context], dim=1)  # [E y; β_t z_t]
        h, state = self._lstm_step(x, state)
        return h, state, weights

    def logits(self, features: Tensor) -> Tensor:
        """Word scores ``(..., V)`` from decoder outputs ``(..., H)``."""
        return self.output(self.dropout(features))

    def forward(self, images: Tensor, inputs: Tensor, owner: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced logits ``(N, T, V)`` of captions ``inputs (N, T)`` (``<bos> y_1 ..``) and the attention
        weights ``(N, T, L)`` (None without attention). ``owner (N,)``: each caption's image (default: row n)."""
        encoded, state = self.encode(images)
        if owner is not None:
            encoded, state = encoded.select(owner), select_rows(state, owner)
        if self.attention is None:  # the inputs do not depend on earlier outputs: the whole sequence in one call
            outputs, _ = self.decoder(self.dropout(self.embedding(inputs)), None, state)  # (N, T, H)
            return self.logits(outputs), None
        outputs, weights = [], []
        for tokens in inputs.unbind(1):
            h, state, alpha = self.step(tokens, state, encoded)
            outputs.append(h)
            weights.append(alpha)
        return self.logits(torch.stack(outputs, dim=1)), torch.stack(weights, dim=1)  # (N, T, V), (N, T, L)


def caption_loss(logits: Tensor, weights: Tensor | None, targets: Tensor, pad_id: int,
                 doubly_stochastic: float = 0.0) -> Tensor:
    """Summed cross-entropy over the real targets of ``logits (N, T, V)``, ``targets (N, T)``, plus
    λ sum_n sum_i (1 - sum_t α_nti)^2 over each caption's real steps (``weights (N, T, L)``, if any)."""
    dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32  # bf16 autocast: the loss in fp32
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).to(dtype), targets.reshape(-1), ignore_index=pad_id,
                           reduction="sum")
    if weights is not None and doubly_stochastic > 0:
        real = (targets != pad_id).unsqueeze(2).to(dtype)  # (N, T, 1)
        attended = (weights.to(dtype) * real).sum(dim=1)  # (N, L): sum_t α_ti
        has_steps = real.amax(dim=(1, 2)).unsqueeze(1)  # (N, 1): empty (padding) captions add nothing
        loss = loss + doubly_stochastic * (((1.0 - attended) ** 2) * has_steps).sum()
    return loss


__all__ = ["Captioner", "CaptionerConfig", "ConvEncoder", "EncodedImages", "caption_loss", "select_rows"]
