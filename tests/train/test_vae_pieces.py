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


def test_decoder_only_fine_tune_keeps_the_encoder_and_its_latent_statistics(tiny_weights, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`kinema train vae --init W --decoder-only`: the latents (and so a DiT trained on them) stay valid."""
    from dataclasses import replace

    import pytest

    from kinema.pipeline import load_vae
    from kinema.train.checkpoint import load_weights
    from kinema.train.runner import OptimConfig
    from kinema.train.vae import VAETrainConfig, train_vae

    before = load_vae(tiny_weights)
    data = WorldData(seed=0, distribution="simple", buckets=((32, 32, 5),), pixel_budget=32 * 32 * 5 * 2)
    cfg = VAETrainConfig(vae=before.cfg, data=data, train_encoder=False,
                         optim=OptimConfig(steps=3, lr=1e-2, warmup=1, checkpoint_every=3, log_every=1))
    train_vae(replace(cfg), tmp_path / "run", export_to=tmp_path / "out", progress=False, init_state=load_weights(tiny_weights, "vae"))
    after = load_vae(tmp_path / "out")
    for name, value in before.state_dict().items():
        changed = not torch.allclose(value, after.state_dict()[name], atol=1e-3)  # (the export is fp16)
        assert not changed or name.startswith("decoder."), name  # only decoder weights may move
    assert any(not torch.allclose(v, after.state_dict()[k], atol=1e-3) for k, v in before.state_dict().items() if k.startswith("decoder."))
    assert after.cfg.latent_mean == before.cfg.latent_mean and after.cfg.latent_std == before.cfg.latent_std
    with pytest.raises(ValueError, match="--init"):
        train_vae(cfg, tmp_path / "scratch", progress=False)
