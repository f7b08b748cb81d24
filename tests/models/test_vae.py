import pytest
import torch

from kinema.models.vae import VAEConfig, VideoVAE, latent_frames

TINY = VAEConfig(latent_channels=4, channels=(8, 8, 16))


@pytest.fixture(scope="module")
def vae() -> VideoVAE:
    torch.manual_seed(0)
    return VideoVAE(TINY).eval()


@pytest.mark.parametrize("frames,height,width", [(1, 64, 64), (5, 64, 96), (33, 64, 64), (9, 32, 112)])
def test_shapes_every_size_and_duration(vae: VideoVAE, frames: int, height: int, width: int) -> None:
    x = torch.rand(1, 3, frames, height, width) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x)
        assert z.shape == (1, 4, latent_frames(frames), height // 8, width // 8)
        assert vae.decode(z).shape == x.shape


def test_first_frame_is_encoded_alone(vae: VideoVAE) -> None:
    """Causality: latent frame 0 depends only on pixel frame 0, so an image is a 1-frame video."""
    x = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    y = x.clone()
    y[:, :, 1:] = torch.rand_like(y[:, :, 1:])
    with torch.no_grad():
        zx, zy, zimg = vae.encode(x), vae.encode(y), vae.encode(x[:, :, :1])
    assert torch.allclose(zx[:, :, 0], zy[:, :, 0], atol=1e-5)
    assert torch.allclose(zx[:, :, :1], zimg, atol=1e-5)
    assert not torch.allclose(zx[:, :, 1], zy[:, :, 1], atol=1e-3)


def test_chunked_decode_is_seamless_and_exact(vae: VideoVAE) -> None:
    z = torch.randn(1, 4, 9, 4, 4)
    with torch.no_grad():
        whole = vae.decode(z)
        for chunk in (1, 2, 4):
            assert torch.allclose(vae.decode(z, chunk_frames=chunk), whole, atol=1e-5)


def test_rejects_bad_frame_counts_and_sizes(vae: VideoVAE) -> None:
    with pytest.raises(ValueError, match="1 \\+ 4k"):
        vae.encode(torch.zeros(1, 3, 4, 32, 32))
    with pytest.raises(ValueError, match="multiples of 8"):
        vae.encode(torch.zeros(1, 3, 1, 36, 32))
    with pytest.raises(ValueError, match="latent"):
        vae.decode(torch.zeros(1, 5, 1, 4, 4))


def test_training_reduces_reconstruction_error() -> None:
    torch.manual_seed(0)
    vae = VideoVAE(TINY)
    x = torch.zeros(2, 3, 5, 32, 32) - 0.8
    x[:, 0, :, 8:20, 8:20] = 0.7  # a red-ish square
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        recon, kl = vae(x)
        loss = (recon - x).pow(2).mean() + 1e-6 * kl
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
