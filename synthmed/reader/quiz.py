"""The real-or-synthetic quiz: an ipywidgets app that records reads in the responses CSV format.

It shows a balanced, shuffled set of real and synthetic images one at a time, with Real /
Synthetic buttons and a confidence slider, times each answer and adds every answer to the CSV
at once (`append_responses`: locked, atomic, never from a stale copy of the file), so a reader can
stop at any point and resume later from the same file, and several readers can share one file. The truth stays
in Python: the page only ever holds the image's pixels and an opaque id.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from synthmed.reader.responses import RESPONSE_COLUMNS, append_responses, read_responses


@dataclass(frozen=True)
class QuizItem:
    image_id: str  # opaque: derived from the quiz seed and position, never from the truth
    image: np.ndarray  # uint8 (R, R)
    truth: str  # "real" or "synthetic"
    modality: str
    resolution: int
    generator: str


def make_items(
    real: np.ndarray,
    synthetic: np.ndarray,
    *,
    n_per_class: int,
    modality: str,
    generator: str,
    seed: int,
) -> list[QuizItem]:
    """A balanced, shuffled quiz: `n_per_class` real and as many synthetic images (uint8 (N, R, R))."""
    if real.shape[1:] != synthetic.shape[1:]:
        raise ValueError(f"real images {real.shape[1:]} and synthetic images {synthetic.shape[1:]} differ in size")
    if min(len(real), len(synthetic)) < n_per_class:
        raise ValueError(
            f"need {n_per_class} images of each kind, have {len(real)} real and {len(synthetic)} synthetic"
        )
    rng = np.random.default_rng(seed)
    chosen = [("real", real[i]) for i in rng.choice(len(real), n_per_class, replace=False)]
    chosen += [("synthetic", synthetic[i]) for i in rng.choice(len(synthetic), n_per_class, replace=False)]
    order = rng.permutation(len(chosen))
    resolution = int(real.shape[-1])
    items = []
    for position, k in enumerate(order):
        truth, image = chosen[k]
        digest = hashlib.sha256(f"{seed}:{modality}:{resolution}:{generator}:{position}".encode()).hexdigest()[:10]
        items.append(QuizItem(f"{modality}-{resolution}-{digest}", image, truth, modality, resolution, generator))
    return items


def png_bytes(image: np.ndarray, display_size: int) -> bytes:
    """The image as PNG, enlarged to `display_size` with nearest-neighbour so no pixel is invented."""
    pil = Image.fromarray(np.asarray(image, dtype=np.uint8)).resize((display_size, display_size), Image.NEAREST)
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()


class Quiz:
    """One reader's session. `quiz.widget` is the app; answers are appended to `responses_csv`."""

    def __init__(
        self,
        items: list[QuizItem],
        responses_csv: str | Path,
        *,
        reader_id: str,
        reader_experience: str = "",
        display_size: int = 256,
        clock=time.perf_counter,
    ) -> None:
        import ipywidgets as w

        if not reader_id:
            raise ValueError("reader_id must be a non-empty pseudonym")
        self.items = items
        self.path = Path(responses_csv)
        self.reader_id = reader_id
        self.reader_experience = reader_experience
        self.display_size = display_size
        self._clock = clock
        self._rows: list[dict[str, object]] = []  # this reader's reads, saved or not
        self._pending: list[dict[str, object]] = []  # reads not yet in the file (a save failed)
        if self.path.exists():  # resume: skip what this reader answered
            previous = read_responses(self.path)
            self._rows = previous[previous["reader_id"] == reader_id].to_dict("records")
        done = {row["image_id"] for row in self._rows}
        self._queue = [item for item in items if item.image_id not in done]
        self._shown_at = 0.0

        self.image = w.Image(format="png", width=display_size, height=display_size)
        self.real_button = w.Button(description="Real", button_style="info")
        self.synthetic_button = w.Button(description="Synthetic", button_style="warning")
        self.confidence = w.IntSlider(value=3, min=1, max=5, description="Confidence")
        self.progress = w.IntProgress(value=0, min=0, max=len(items))
        self.status = w.Label()
        self.stop_button = w.Button(description="Stop and save")
        self.real_button.on_click(lambda _: self.answer("real"))
        self.synthetic_button.on_click(lambda _: self.answer("synthetic"))
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = w.VBox(
            [
                self.image,
                w.HBox([self.real_button, self.synthetic_button]),
                self.confidence,
                w.HBox([self.progress, self.status]),
                self.stop_button,
            ]
        )
        self._show_next()

    @property
    def finished(self) -> bool:
        return not self._queue

    def _show_next(self) -> None:
        answered = len(self.items) - len(self._queue)
        self.progress.value = answered
        if self.finished:
            self.image.value = b""
            self.status.value = f"done: {answered} of {len(self.items)} answered, saved to {self.path.name}"
            self.real_button.disabled = self.synthetic_button.disabled = True
            return
        self.image.value = png_bytes(self._queue[0].image, self.display_size)
        self.status.value = f"image {answered + 1} of {len(self.items)}"
        self.confidence.value = 3
        self._shown_at = self._clock()

    def answer(self, answer: str) -> None:
        """Record `answer` ("real" or "synthetic") for the image on screen, save, show the next."""
        if self.finished:
            return
        item = self._queue.pop(0)
        row = {
            "reader_id": self.reader_id,
            "reader_experience": self.reader_experience,
            "image_id": item.image_id,
            "modality": item.modality,
            "resolution": item.resolution,
            "generator": item.generator,
            "truth": item.truth,
            "answer": answer,
            "confidence": int(self.confidence.value),
            "response_time_s": round(max(0.0, self._clock() - self._shown_at), 3),
        }
        self._rows.append(row)
        self._pending.append(row)
        try:
            self.save()
        finally:  # a failed save keeps the answer pending; the next answer retries it
            self._show_next()

    def responses(self) -> pd.DataFrame:
        """Every read in the file as it is now (every reader's), then this reader's unsaved ones."""
        saved = read_responses(self.path) if self.path.exists() else None
        pending = pd.DataFrame(self._pending, columns=list(RESPONSE_COLUMNS))
        return pending if saved is None else pd.concat([saved, pending], ignore_index=True)

    def save(self) -> Path:
        """Add this reader's unsaved answers to the file; other readers' reads there are kept as they are.

        A failed save (a full disk, say) leaves the file as it was and the answers pending for the next."""
        if self._pending:
            append_responses(pd.DataFrame(self._pending, columns=list(RESPONSE_COLUMNS)), self.path, skip_repeated=True)
            self._pending = []
        return self.path

    def stop(self) -> None:
        """Save and disable the buttons; a new Quiz on the same file resumes where this one stopped."""
        self.save()
        self.real_button.disabled = self.synthetic_button.disabled = True
        answered = len(self.items) - len(self._queue)
        self.status.value = f"stopped after {answered} of {len(self.items)}; run the quiz again to resume"
