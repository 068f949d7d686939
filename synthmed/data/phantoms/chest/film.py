"""One chest film: its acquisition (size, framing, exposure) and the surface the anatomy is drawn on.

Drawing adds projected density D in anatomy coordinates; `Film.develop` turns D into 8-bit film
brightness. The shape helpers here know nothing of anatomy; `anatomy` and `findings` use them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthmed.data.phantoms.chest.textures import texture_banks

SHORT_SIDE = 320  # CheXpert-small images are about 320 px on the short side and not square


@dataclass
class Shot:
    height: int
    width: int
    zoom: float  # anatomy size in the frame
    tilt: float  # in-plane rotation, radians
    shift_u: float
    shift_v: float
    spine_shift: float  # patient rotation about the vertical axis moves the spine off the midline
    inspiration: float
    exposure: float
    offset: float
    contrast: float
    noise: float  # grey levels
    noise_r: int  # offsets into the noise bank
    noise_c: int
    ap: bool
    arms: bool  # the arms lie along the sides, in the frame


@dataclass(frozen=True)
class ShotVariation:
    """How one exposure varies between images (uniform ranges unless said otherwise)."""

    aspect: tuple[float, float] = (1.1, 1.3)  # long side over short side
    zoom: tuple[float, float] = (0.88, 1.04)  # anatomy size in the frame
    tilt_sd: float = 2.0  # in-plane rotation, degrees (normal, clipped to +-tilt_max)
    tilt_max: float = 5.0
    shift_u: tuple[float, float] = (-0.06, 0.06)  # framing offset, anatomy units
    shift_v: tuple[float, float] = (-0.08, 0.08)
    spine_sd: float = 0.015  # spine off the midline by patient rotation, anatomy units (normal, clipped) ...
    spine_max: float = 0.04
    inspiration: tuple[float, float] = (0.88, 1.05)  # lung height factor of the breath held
    ap_inspiration: float = 0.96  # AP films are taken lying down, with a shallower breath
    exposure: tuple[float, float] = (1.05, 1.4)  # attenuation gain
    offset: tuple[float, float] = (-0.06, 0.06)  # brightness offset, share of full scale
    contrast: tuple[float, float] = (0.9, 1.15)
    ap_contrast: float = 0.93  # portable AP films are flatter ...
    noise: tuple[float, float] = (2.0, 5.0)  # grey levels (sd)
    ap_noise: float = 1.0  # ... and noisier
    noise_offsets: int = 1024 - 420  # offsets into the 1024-px noise bank that leave room for the film
    p_arms: float = 0.5  # frontal films with the arms down along the sides


SHOT_VARIATION = ShotVariation()


def draw_shot(rng: np.random.Generator, ap: bool, lateral: bool, short_side: int = SHORT_SIDE) -> Shot:
    if short_side < 32 or short_side % 2:
        raise ValueError(f"short_side must be an even number of pixels >= 32, got {short_side}")
    c = SHOT_VARIATION
    long_side = 2 * int(round(short_side * rng.uniform(*c.aspect) / 2))  # even: drawn at half resolution first
    portrait = rng.random() < 0.5
    height, width = (long_side, short_side) if portrait else (short_side, long_side)
    return Shot(
        height=height,
        width=width,
        zoom=rng.uniform(*c.zoom),
        tilt=math.radians(float(np.clip(rng.normal(0, c.tilt_sd), -c.tilt_max, c.tilt_max))),
        shift_u=rng.uniform(*c.shift_u),
        shift_v=rng.uniform(*c.shift_v),
        spine_shift=float(np.clip(rng.normal(0, c.spine_sd), -c.spine_max, c.spine_max)),
        inspiration=rng.uniform(*c.inspiration) * (c.ap_inspiration if ap else 1.0),
        exposure=rng.uniform(*c.exposure),
        offset=rng.uniform(*c.offset),
        contrast=rng.uniform(*c.contrast) * (c.ap_contrast if ap else 1.0),
        noise=rng.uniform(*c.noise) + (c.ap_noise if ap else 0.0),
        noise_r=int(rng.integers(0, c.noise_offsets)),
        noise_c=int(rng.integers(0, c.noise_offsets)),
        ap=ap,
        arms=bool(rng.random() < c.p_arms) and not lateral,  # on laterals the arms are raised
    )


class Film:
    """One image being drawn: its pixel grid, anatomy coordinates and the density map D.

    Anatomy coordinates: u to the image's right, v down, 1 unit = half the short image side times
    the zoom. D is the projected density; `develop` turns it into film brightness. Smooth anatomy
    is drawn on a half-resolution film (`scale=2`) and upsampled; thin details at full resolution.
    """

    def __init__(self, shot: Shot, scale: int = 1, D: np.ndarray | None = None):
        self.h, self.w = shot.height // scale, shot.width // scale
        self.ppu = min(shot.height, shot.width) / 2 * shot.zoom / scale  # pixels per anatomy unit
        self.cx = (shot.width / 2 - shot.shift_u * self.ppu * scale) / scale
        self.cy = (shot.height / 2 - shot.shift_v * self.ppu * scale) / scale
        self.cos, self.sin = math.cos(shot.tilt), math.sin(shot.tilt)
        xs = (np.arange(self.w, dtype=np.float32) + np.float32(0.5 - self.cx)) * np.float32(1 / self.ppu)
        ys = (np.arange(self.h, dtype=np.float32) + np.float32(0.5 - self.cy)) * np.float32(1 / self.ppu)
        self.u = (self.cos * xs)[None, :] + (self.sin * ys)[:, None]
        self.v = (-self.sin * xs)[None, :] + (self.cos * ys)[:, None]
        self.D = np.zeros((self.h, self.w), dtype=np.float32) if D is None else D

    def full_resolution(self, shot: Shot) -> Film:
        """A full-resolution film whose D is this half-resolution film's D, bilinearly upsampled."""
        return Film(shot, scale=1, D=upsample2(self.D))

    def box(self, u0: float, u1: float, v0: float, v1: float) -> tuple[slice, slice] | None:
        """Pixel window covering the anatomy rectangle [u0, u1] x [v0, v1], or None if off the image."""
        c, s, k = self.cos, self.sin, self.ppu
        xs = (c * u0 - s * v0, c * u1 - s * v0, c * u0 - s * v1, c * u1 - s * v1)
        ys = (s * u0 + c * v0, s * u1 + c * v0, s * u0 + c * v1, s * u1 + c * v1)
        c0, c1 = max(0, int(self.cx + min(xs) * k) - 1), min(self.w, int(self.cx + max(xs) * k) + 2)
        r0, r1 = max(0, int(self.cy + min(ys) * k) - 1), min(self.h, int(self.cy + max(ys) * k) + 2)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def px(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) pixel positions of anatomy points."""
        cols = self.cx + (self.cos * u - self.sin * v) * self.ppu - 0.5
        rows = self.cy + (self.sin * u + self.cos * v) * self.ppu - 0.5
        return rows, cols

    def ellipse(self, cu, cv, ru, rv, amp, sharp=6.0, dome=0.0, mask=None, texture=None, target=None) -> None:
        """Add amp * a soft ellipse to D (or `target`); dome > 0 makes it denser in the middle (a ball)."""
        win = self.box(cu - ru, cu + ru, cv - rv, cv + rv)
        if win is None:
            return
        f = ellipse(self.u[win], self.v[win], cu, cv, ru, rv)
        shape = inside(f, sharp)
        if dome:
            shape *= 1.0 - dome + dome * np.clip(1.0 - f, 0.0, 1.0)
        if texture is not None:
            shape *= texture[: shape.shape[0], : shape.shape[1]]
        if mask is not None:
            shape *= mask[win]
        (self.D if target is None else target)[win] += amp * shape

    def polyline(self, layer: np.ndarray, pts_u, pts_v, half_width: float, value: float) -> None:
        """Draw a curve `half_width` anatomy units thick through anatomy points into `layer`, keeping
        the maximum where strokes cross."""
        pu, pv = np.asarray(pts_u, dtype=np.float64), np.asarray(pts_v, dtype=np.float64)
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(pu), np.diff(pv)))]) * self.ppu
        steps = np.linspace(0.0, arc[-1], max(2, int(arc[-1] / 0.7)))  # a point every 0.7 px
        rows, cols = self.px(np.interp(steps, arc, pu), np.interp(steps, arc, pv))
        half_px = half_width * self.ppu
        reach = int(math.ceil(half_px))
        dr, dc = np.mgrid[-reach : reach + 1, -reach : reach + 1].reshape(2, -1)
        weight = value * np.minimum(1.0, half_px + 0.5 - np.hypot(dr, dc))
        keep = weight > 0
        dr, dc, weight = dr[keep], dc[keep], weight[keep].astype(np.float32)
        rr = (np.rint(rows).astype(np.int64)[:, None] + dr).ravel()
        cc = (np.rint(cols).astype(np.int64)[:, None] + dc).ravel()
        ww = np.broadcast_to(weight, (len(rows), len(weight))).ravel()
        ok = (rr >= 0) & (rr < self.h) & (cc >= 0) & (cc < self.w)
        np.maximum.at(layer.reshape(-1), rr[ok] * self.w + cc[ok], ww[ok])

    def develop(self, shot: Shot, gain: float = 1.0) -> np.ndarray:
        """Density to an 8-bit film: exponential attenuation, exposure, contrast, noise."""
        noise = texture_banks().noise[shot.noise_r : shot.noise_r + self.h, shot.noise_c : shot.noise_c + self.w]
        image = np.exp(self.D * np.float32(-shot.exposure * gain))
        image *= np.float32(-255.0 * shot.contrast)
        image += np.float32(255.0 * (shot.contrast + shot.offset))
        image += noise * np.float32(shot.noise)
        return np.clip(image, 0, 255).astype(np.uint8)


def upsample2(a: np.ndarray) -> np.ndarray:
    """Bilinear 2x upsampling with pixel centres aligned (each output pixel 1/4 pixel off an input centre)."""
    h, w = a.shape
    rows = np.empty((2 * h, w), dtype=np.float32)
    rows[0] = a[0]
    rows[2::2] = 0.75 * a[1:] + 0.25 * a[:-1]
    rows[1:-1:2] = 0.75 * a[:-1] + 0.25 * a[1:]
    rows[-1] = a[-1]
    out = np.empty((2 * h, 2 * w), dtype=np.float32)
    out[:, 0] = rows[:, 0]
    out[:, 2::2] = 0.75 * rows[:, 1:] + 0.25 * rows[:, :-1]
    out[:, 1:-1:2] = 0.75 * rows[:, :-1] + 0.25 * rows[:, 1:]
    out[:, -1] = rows[:, -1]
    return out


def inside(f: np.ndarray, sharp: float) -> np.ndarray:
    """Soft indicator of f < 1 (f = 1 on the boundary), with an edge of width ~1/sharp in f."""
    return np.clip((1.0 - f) * sharp, 0.0, 1.0)


def ellipse(u, v, cu, cv, ru, rv):
    """((u - cu) / ru)^2 + ((v - cv) / rv)^2: below 1 inside the ellipse."""
    du = (u - cu) * (1.0 / ru)
    dv = (v - cv) * (1.0 / rv)
    return du * du + dv * dv


def curve(p0, p1, bend: float, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Points of a quadratic curve from p0 to p1 bowing sideways by `bend` (anatomy units)."""
    t = np.linspace(0, 1, n)
    mu, mv = (p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2
    du, dv = p1[0] - p0[0], p1[1] - p0[1]
    norm = math.hypot(du, dv) or 1.0
    cu, cv = mu - dv / norm * bend, mv + du / norm * bend
    us = (1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * cu + t**2 * p1[0]
    vs = (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * cv + t**2 * p1[1]
    return us, vs


def side_of(x: float) -> float:
    """A side from a uniform draw: -1 is the image's left (the patient's right), +1 the image's right."""
    return -1.0 if x < 0.5 else 1.0


def texture_at(texture: np.ndarray, u: np.ndarray, v: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Sample a square texture covering anatomy [-1, 1]^2 at (u, v), nearest neighbour."""
    n = texture.shape[0]
    iu = np.clip((u * np.float32(scale) + np.float32(1.0)) * np.float32(n / 2), 0, n - 1).astype(np.int32)
    iv = np.clip((v + np.float32(1.0)) * np.float32(n / 2), 0, n - 1).astype(np.int32)
    return texture[iv, iu]
