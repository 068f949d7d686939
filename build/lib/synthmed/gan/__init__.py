"""The paper's two conditional generators, prog-GAN and cpD-GAN, with their losses and settings.

``layers`` holds the shared building blocks, ``progan`` and ``cpdgan`` the networks, ``losses``
WGAN-GP with drift and the auxiliary-classifier term, ``config`` the settings and ``build``.
"""
