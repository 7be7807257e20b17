import pytest
import torch
import torchvision

from qsearch import QSearchError
from qsearch.images import load_images
from qsearch.models import load_classifier
from realdata import IMAGENET_SAMPLE, SPLITS


@pytest.mark.imagenet
def test_default_model_classifies_real_images(classifier):
    images = load_images(IMAGENET_SAMPLE, split_file=SPLITS, split="test", limit=40)
    predictions = classifier.log_probs(images.images).argmax(1).numpy()
    assert (predictions == images.labels).mean() >= 0.75  # 88% on the full 400


def test_torchvision_architecture_with_local_weights(tmp_path):
    reference = torchvision.models.get_model(
        "mobilenet_v3_small", weights=None, num_classes=1000
    ).eval()
    torch.save(reference.state_dict(), tmp_path / "w.pth")
    loaded = load_classifier("torchvision/mobilenet_v3_small", tmp_path / "w.pth", device="cpu")
    x = torch.rand(2, 3, 224, 224)
    assert torch.allclose(
        loaded.module(x.contiguous(memory_format=torch.channels_last)), reference(x), atol=1e-4
    )


def test_mismatched_missing_and_damaged_weights_are_named(tmp_path):
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "resnet.pth")
    with pytest.raises(
        QSearchError,
        match="resnet.pth: weights do not match architecture torchvision/mobilenet_v3_small",
    ):
        load_classifier("torchvision/mobilenet_v3_small", tmp_path / "resnet.pth")
    with pytest.raises(QSearchError, match="absent.pth: weights file not found"):
        load_classifier("timm/resnet18", tmp_path / "absent.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(QSearchError, match="junk.pth: not a readable PyTorch weights file"):
        load_classifier("timm/resnet18", tmp_path / "junk.pth")
    with pytest.raises(QSearchError, match="needs --weights"):
        load_classifier("timm/resnet18")


def test_torchscript_file(tmp_path):
    module = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 10)
    ).eval()
    torch.jit.trace(module, torch.rand(1, 3, 224, 224)).save(str(tmp_path / "tiny.pt"))
    with pytest.raises(QSearchError, match="tiny.pt: its inputs are not declared"):
        load_classifier(str(tmp_path / "tiny.pt"), device="cpu")  # normalisation never assumed
    declared = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    loaded = load_classifier(str(tmp_path / "tiny.pt"), device="cpu", declared=declared)
    assert loaded.log_probs(torch.zeros(2, 224, 224, 3, dtype=torch.uint8).numpy()).shape == (2, 10)
