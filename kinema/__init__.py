"""Kinema: open text-to-video generation built the way Sora was described.

A diffusion transformer denoises spacetime patches of a compressed video latent; a procedural,
physically exact world (``kinema.world``) trains and measures it.
"""

__version__ = "0.1.0"
