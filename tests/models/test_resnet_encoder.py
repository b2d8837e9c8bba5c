"""ResNet-18/50 in plain torch under torchvision's names: sizes and names of torchvision's models, the grid the
captioner reads, torchvision-style weights files round trip from the hub cache, and offline is one line."""

from __future__ import annotations

import urllib.error

import pytest
import torch
from safetensors.torch import save_file

from rnnkit.models import resnet
from rnnkit.models.captioner import Captioner, CaptionerConfig
from rnnkit.models.resnet import ResNet, find_pretrained, load_pretrained_resnet


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache; no network (a download raises what urllib raises offline)."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "hub" / "checkpoints"


@pytest.mark.parametrize(("name", "parameters", "channels", "keys"), [
    ("resnet18", 11_689_512 - 513_000, 512, ["layer1.1.bn2.running_var", "layer2.0.downsample.0.weight",
                                             "layer4.1.conv2.weight"]),
    ("resnet50", 25_557_032 - 2_049_000, 2048, ["layer1.0.downsample.1.weight", "layer3.5.conv3.weight",
                                                "layer4.2.bn3.num_batches_tracked"]),
])
def test_sizes_and_names_are_torchvisions(name, parameters, channels, keys):
    # torchvision's resnet18 / resnet50 have 11,689,512 / 25,557,032 parameters, of which fc holds
    # 512*1000+1000 / 2048*1000+1000
    model = ResNet(name)
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert all(key in model.state_dict() for key in keys) and "layer1.0.downsample.0.weight" not in (
        model.state_dict() if name == "resnet18" else {})
    assert model.output_channels == channels
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, channels, 2, 2)


def test_the_captioner_reads_a_grid_of_stride_32_and_a_frozen_backbone_stays_fixed():
    torch.manual_seed(0)
    config = CaptionerConfig(encoder="resnet18", freeze_encoder=True, feature_size=6, embedding_size=5,
                             hidden_size=7)
    model = Captioner(11, config).train()
    grid = model.encoder(torch.randn(2, 3, 96, 96))
    assert grid.shape == (2, 9, 6)  # 96 / 32 = 3: a 3x3 grid of 6-vectors
    assert not model.encoder.backbone.training and model.encoder.projection.training
    assert not any(p.requires_grad for p in model.encoder.backbone.parameters())
    before = model.encoder.backbone.bn1.running_mean.clone()
    logits, _ = model(torch.randn(2, 3, 64, 64), torch.tensor([[1, 3], [1, 4]]))
    logits.sum().backward()
    assert torch.equal(model.encoder.backbone.bn1.running_mean, before)  # statistics kept in training
    assert model.encoder.projection.weight.grad is not None


def test_encoder_settings_are_checked():
    with pytest.raises(ValueError, match="encoder: got 'vgg16'"):
        CaptionerConfig(encoder="vgg16")
    with pytest.raises(ValueError, match="pretrained: got True with encoder 'cnn'"):
        CaptionerConfig(pretrained=True)
    with pytest.raises(ValueError, match="freeze_encoder: got True with encoder 'cnn'"):
        CaptionerConfig(freeze_encoder=True)


@pytest.mark.parametrize("suffix", ["pth", "safetensors"])
def test_torchvision_weights_files_round_trip_through_the_hub_cache(hub, suffix):
    torch.manual_seed(1)
    source = ResNet("resnet18")
    for module in source.modules():  # running statistics that differ from a fresh model's
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    state = {**{key: value for key, value in source.state_dict().items() if "num_batches_tracked" not in key},
             "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}  # as torchvision's file
    hub.mkdir(parents=True)
    path = hub / ("resnet18-f37072fd.pth" if suffix == "pth" else "resnet18-mine.safetensors")
    if suffix == "pth":
        torch.save(state, path)
    else:
        save_file({key: value.contiguous() for key, value in state.items()}, str(path))
    assert find_pretrained("resnet18") == path
    target = ResNet("resnet18")
    assert load_pretrained_resnet(target) == path
    images = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(target.eval()(images), source.eval()(images), rtol=0, atol=0)


def test_offline_without_cached_weights_is_one_line(hub):
    with pytest.raises(ValueError, match=r"--pretrained: no resnet50 weights in .*checkpoints and the download of "
                                         r"https://download.pytorch.org/models/resnet50-11ad3fa6.pth failed .*; "
                                         r"offline, put resnet50-11ad3fa6.pth") as caught:
        load_pretrained_resnet(ResNet("resnet50"))
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="no resnet18 weights in .*; expected resnet18-f37072fd.pth"):
        load_pretrained_resnet(ResNet("resnet18"), download=False)


def test_wrong_weights_files_are_one_line_errors(tmp_path):
    other = tmp_path / "resnet50-x.safetensors"
    save_file(ResNet("resnet50").state_dict(), str(other))
    with pytest.raises(ValueError, match=r"not resnet18 weights \((missing|unexpected) "):
        load_pretrained_resnet(ResNet("resnet18"), other)
    garbage = tmp_path / "resnet18-x.pth"
    garbage.write_text("<html>not found</html>")
    with pytest.raises(ValueError, match="resnet18-x.pth: not a readable weights file"):
        load_pretrained_resnet(ResNet("resnet18"), garbage)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pretrained_resnet(ResNet("resnet18"), tmp_path / "nope.pth")
    assert resnet.RESNETS["resnet18"][1] == (2, 2, 2, 2)
