r"""ResNet-18 and ResNet-50 (He et al. 2016) as image encoders, in plain torch with torchvision's parameter names.

torchvision's wheels must match torch's build exactly (its C++ operators register against it), so rnnkit does not
depend on it; this module rebuilds the two backbones layer for layer (torchvision's ``resnet18`` / ``resnet50``:
ResNet v1.5, the stride in the bottleneck's 3x3 convolution) under the same names (``conv1``, ``bn1``,
``layer1.0.conv1``, ``layer2.0.downsample.0``, ...), so torchvision's ImageNet state dicts load as they are (their
``fc.*`` classifier rows are dropped: an encoder keeps the last feature map)::

    image (B, 3, S, S) ─conv1 7x7/2, bn1, relu, maxpool 3x3/2─▶ layer1 ─▶ layer2 (/2) ─▶ layer3 (/2) ─▶ layer4 (/2)
        ─▶ feature map (B, C, S/32, S/32),   C = 512 (ResNet-18, basic blocks 2-2-2-2)
                                                 2048 (ResNet-50, bottleneck blocks 3-4-6-3)

    basic block:       y = relu(bn2(conv2_3x3(relu(bn1(conv1_3x3(x))))) + shortcut(x))
    bottleneck block:  y = relu(bn3(conv3_1x1(relu(bn2(conv2_3x3(relu(bn1(conv1_1x1(x)))))))) + shortcut(x))
    shortcut(x) = x, or downsample(x) = bn(conv_1x1/stride(x)) where the shape changes

Pretrained weights (:func:`load_pretrained_resnet`) are read from the user's torch hub cache
(``$TORCH_HOME/hub/checkpoints``, torchvision's own download folder): a ``resnet18-*.safetensors`` /
``resnet50-*.safetensors`` file, or torchvision's ``resnet18-f37072fd.pth`` / ``resnet50-*.pth`` read with
``torch.load(weights_only=True)`` (tensors only; no code is unpickled). A missing file is downloaded from
torchvision's address into that folder; offline, that is a one-line error naming the folder and the file to put
there.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["RESNETS", "ResNet", "find_pretrained", "load_pretrained_resnet", "read_resnet_weights"]

# depth -> (block, blocks per stage, torchvision's ImageNet weights: file name and address)
RESNETS = {
    "resnet18": ("basic", (2, 2, 2, 2), "https://download.pytorch.org/models/resnet18-f37072fd.pth"),
    "resnet50": ("bottleneck", (3, 4, 6, 3), "https://download.pytorch.org/models/resnet50-11ad3fa6.pth"),
}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, channels_in: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + shortcut)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, channels_in: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)  # v1.5: the stride here, not in conv1
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + shortcut)


class ResNet(nn.Module):
    """The convolutional part of torchvision's ResNet: ``images (B, 3, S, S) -> features (B, C, S/32, S/32)``.

    Args:
        name: ``"resnet18"`` or ``"resnet50"``.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        if name not in RESNETS:
            raise ValueError(f"encoder: got {name!r}; expected one of {', '.join(map(repr, RESNETS))}")
        kind, stages, _ = RESNETS[name]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.name = name
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        channels = 64
        for index, (planes, count) in enumerate(zip((64, 128, 256, 512), stages, strict=True)):
            stride = 1 if index == 0 else 2
            downsample = None
            if stride != 1 or channels != planes * block.expansion:
                downsample = nn.Sequential(nn.Conv2d(channels, planes * block.expansion, 1, stride, bias=False),
                                           nn.BatchNorm2d(planes * block.expansion))
            blocks = [block(channels, planes, stride, downsample)]
            channels = planes * block.expansion
            blocks += [block(channels, planes) for _ in range(count - 1)]
            setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
        self.output_channels = channels
        for module in self.modules():  # torchvision's initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, images: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))  # (B, 64, S/4, S/4)
        x = self.layer2(self.layer1(x))  # (B, C/4 or 128, S/8, S/8)
        return self.layer4(self.layer3(x))  # (B, C, S/32, S/32)


def hub_checkpoints() -> Path:
    """torchvision's download folder: ``torch.hub.get_dir()/checkpoints`` (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_pretrained(name: str, folder: Path | None = None) -> Path | None:
    """The cached ImageNet weights of ``name`` in ``folder`` (default: the hub cache): torchvision's own file, else
    any ``NAME-*.safetensors`` or ``NAME-*.pth`` (safetensors first); None if there is none."""
    folder = hub_checkpoints() if folder is None else folder
    own = folder / RESNETS[name][2].rsplit("/", 1)[1]
    if own.is_file():
        return own
    for pattern in (f"{name}-*.safetensors", f"{name}-*.pth"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    return None


def read_resnet_weights(path: Path) -> dict[str, Tensor]:
    """The tensors of a ``.safetensors`` file or of a ``.pth`` state dict (``torch.load(weights_only=True)``)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated download, an HTML page, a pickle with code: one line, not a trace
        raise ValueError(f"{path}: not a readable weights file ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''}); expected torchvision's state dict "
                         "(.pth) or a .safetensors file") from None
    if not isinstance(state, dict) or not all(isinstance(value, Tensor) for value in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors; expected torchvision's ResNet weights")
    return state


def load_pretrained_resnet(model: ResNet, path: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """Copy torchvision's ImageNet weights into ``model``; return the file read.

    ``path``: a weights file; None looks in the hub cache (:func:`find_pretrained`) and, when ``download``,
    fetches torchvision's file into it.

    Raises:
        ValueError: No cached file and no network (naming the folder and the file to put there), an unreadable
            file, or weights of another architecture (missing, unexpected or differently shaped tensors).
    """
    if path is None:
        found = find_pretrained(model.name)
        if found is None:
            url = RESNETS[model.name][2]
            target = hub_checkpoints() / url.rsplit("/", 1)[1]
            if not download:
                raise ValueError(f"--pretrained: no {model.name} weights in {target.parent}; expected {target.name} "
                                 f"(from {url}) or a {model.name}-*.safetensors file there")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                torch.hub.download_url_to_file(url, str(target), progress=False)
            except (urllib.error.URLError, OSError) as error:
                raise ValueError(f"--pretrained: no {model.name} weights in {target.parent} and the download of {url} "
                                 f"failed ({getattr(error, 'reason', error)}); offline, put {target.name} (or a "
                                 f"{model.name}-*.safetensors file) there") from None
            found = target
        path = found
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--pretrained: {path} does not exist")
    state = {key: value for key, value in read_resnet_weights(path).items() if not key.startswith("fc.")}
    own = model.state_dict()
    # torchvision's files may lack BatchNorm's num_batches_tracked counters (unused in eval; load_state_dict
    # then keeps the model's own)
    missing = sorted(key for key in set(own) - set(state) if not key.endswith("num_batches_tracked"))
    unexpected = sorted(set(state) - set(own))
    shapes = [key for key in own if key in state and state[key].shape != own[key].shape]
    if missing or unexpected or shapes:
        if missing or unexpected:
            problem = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        else:
            key = shapes[0]
            problem = f"{key!r} has shape {tuple(state[key].shape)}, expected {tuple(own[key].shape)}"
        raise ValueError(f"{path}: not {model.name} weights ({problem}); expected torchvision's {model.name} state "
                         "dict")
    model.load_state_dict(state, strict=False)  # every other key checked above
    return path
