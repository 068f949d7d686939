"""A third generator beside the paper's GANs: a class-conditional denoising diffusion model (issue 16).

``unet`` holds the network (a small U-Net with timestep and label embeddings), ``config`` its settings
and presets, ``sample`` classifier-free guidance and the DDIM sampler, ``checkpoint`` the checkpoint
format, and ``train`` the resumable, cached, early-stopped training loop. Like ``synthmed.gan`` it knows
nothing of classifiers: early stopping takes any feature extractor.
"""
