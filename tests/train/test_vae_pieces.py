"""Data-parallel VAE training: a piece's loss is its share of the plain `vae_loss`."""

import torch

from kinema.models.vae import VAEConfig, VideoVAE
from kinema.train.data import WorldData, world_batch
from kinema.train.vae import pixel_piece, vae_loss, vae_piece_loss


def test_one_piece_is_the_plain_loss_and_two_pieces_add_up_to_it() -> None:
    torch.manual_seed(0)
    model = VideoVAE(VAEConfig(latent_channels=4, channels=(8, 8, 16)))
    batch = world_batch(0, WorldData(seed=0, distribution="simple", buckets=((32, 32, 5),), pixel_budget=32 * 32 * 5 * 4))
    assert len(batch) == 4
    torch.manual_seed(1)
    plain, _ = vae_loss(model, batch, 1e-3)
    torch.manual_seed(1)
    whole, _ = vae_piece_loss(model, pixel_piece(batch, 0, 1), 1e-3)
    assert torch.allclose(whole, plain, rtol=1e-5), (float(whole), float(plain))
    # Two pieces draw their own posterior noise: equal up to that noise, nowhere near a factor.
    halves = [vae_piece_loss(model, pixel_piece(batch, i, 2), 1e-3)[0] for i in range(2)]
    assert abs(float(sum(h.detach() for h in halves)) / float(plain.detach()) - 1) < 0.05
