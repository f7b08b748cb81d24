"""Kinema: open text-to-video generation built the way Sora was described.

A diffusion transformer denoises spacetime patches of a compressed video latent; a procedural,
physically exact world (``kinema.world``) trains and measures it.
"""

__version__ = "0.1.0"


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """Lazy top-level API (`kinema.generate`, `kinema.Video`) so `import kinema` stays light."""
    if name == "generate":
        from kinema.pipeline import generate

        return generate
    if name == "Video":
        from kinema.video import Video

        return Video
    raise AttributeError(f"module 'kinema' has no attribute {name!r}")
