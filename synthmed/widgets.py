"""ipywidgets explorers for the notebooks.

In a live kernel every control redraws its figure. In the static book the saved widget state
shows the initial figure and the controls move, but nothing is recomputed (there is no kernel).
"""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from synthmed.data.store import box_downsample


def resolution_browser(stacks: dict[str, np.ndarray], resolutions: tuple[int, ...], size: float = 2.2) -> w.Widget:
    """Pick a group (e.g. a finding) and an example; see it at each resolution.

    `stacks` maps a group name to uint8 images (K, R, R) at the highest resolution; lower ones
    are 2x2 box averages, exactly as the image store makes them.
    """
    names = [name for name, stack in stacks.items() if len(stack)]
    if not names:
        raise ValueError("resolution_browser needs at least one non-empty group of images")
    group = w.Dropdown(options=names, value=names[0], description="show")
    example = w.IntSlider(value=0, min=0, max=max(len(stacks[n]) for n in names) - 1, description="example")
    out = w.Output()

    def draw(name: str, k: int) -> None:
        stack = stacks[name]
        image = stack[min(k, len(stack) - 1)]
        base = image.shape[-1]
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, len(resolutions), figsize=(size * len(resolutions), size + 0.3))
            for ax, r in zip(np.atleast_1d(axes), resolutions, strict=True):
                shown = image if r == base else box_downsample(image[None], base // r)[0]
                ax.imshow(shown, cmap="gray", vmin=0, vmax=255)
                ax.set_title(f"{name}, {r}x{r}", fontsize=8)
                ax.axis("off")
            fig.tight_layout()
            plt.show(fig)

    w.interactive_output(draw, {"name": group, "k": example})  # draws the initial state too
    return w.VBox([w.HBox([group, example]), out])
