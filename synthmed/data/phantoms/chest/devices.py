"""Support devices on the chest phantoms: tubes, lines, a pacemaker, ECG leads and sternotomy wires.

"Support Devices" is one of CheXpert's 14 labels. Metal is drawn into its own layer at full
resolution (strokes keep their maximum where they cross), then added to the film's D. A strong sign
has several devices, a subtle one a single thin line or a few ECG leads. Every number lives in a
named frozen dataclass; operations keep their order, so that a seed writes byte-identical images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthmed.data.phantoms.chest.anatomy import Thorax
from synthmed.data.phantoms.chest.film import Film, curve
from synthmed.data.phantoms.chest.findings import STRONG_FROM

# ---------------------------------------------------------------------------------------------
# Frontal film.


@dataclass(frozen=True)
class EndotrachealTube:
    """Radiolucent wall with a radio-opaque stripe, its tip above the carina."""

    top: tuple[float, float] = (-0.02, -1.5)  # (u off the midline, v) where it enters the film
    tip: tuple[float, float] = (-0.005, -0.5)  # its tip ...
    tip_jitter: float = 0.08  # ... higher by up to this
    bend: float = 0.02
    wall: tuple[float, float] = (0.016, 0.3)  # half-width, density
    stripe: tuple[float, float] = (0.004, 0.8)


@dataclass(frozen=True)
class GastricTube:
    """A nasogastric tube down the oesophagus into the stomach."""

    top: tuple[float, float] = (-0.03, -1.5)  # (u off the midline, v)
    hiatus: tuple[float, float] = (0.03, -0.1)  # (u off the midline, v above the left dome's top)
    stomach: tuple[float, float] = (-0.05, 0.2)  # (u off the left lung's centre, v below its dome's top)
    bends: tuple[float, float] = (0.03, -0.06)  # of the two segments
    wall: tuple[float, float] = (0.011, 0.35)
    stripe: tuple[float, float] = (0.003, 0.8)


@dataclass(frozen=True)
class CentralLine:
    """A central venous line from a subclavian vein to the superior vena cava."""

    p_right: float = 0.7  # in the patient's right subclavian vein (image left)
    start: tuple[float, float] = (0.75, -0.95)  # (|u| off the midline, v)
    tip: tuple[float, float] = (0.06, -0.3)  # ... to the tip ...
    tip_jitter: float = 0.1  # ... lower by up to this
    bend: float = 0.08
    strong: tuple[float, float] = (0.008, 0.7)  # half-width, density
    subtle: tuple[float, float] = (0.005, 0.45)  # a thin, faint line


@dataclass(frozen=True)
class Pacemaker:
    """A generator under the clavicle, leads into the right heart."""

    p_left: float = 0.75  # on the patient's left (image right)
    u: tuple[float, float] = (0.5, 0.1)  # |u| off the midline: a + b * draw
    below_apex: tuple[float, float] = (0.15, 0.1)
    axes: tuple[float, float] = (0.09, 0.065)
    density: float = 1.8
    sharp: float = 12.0
    atrium: tuple[float, float] = (-0.5, -0.1)  # lead tips: (heart half-widths from its centre, v offset) ...
    ventricle: tuple[float, float] = (0.2, 0.08)
    bend: float = 0.12
    lead: tuple[float, float] = (0.0075, 0.9)


@dataclass(frozen=True)
class EcgLeads:
    """Electrodes (rings) and their wires."""

    count: tuple[int, int] = (3, 3)  # a + floor(b * draw) electrodes
    u: float = 0.75  # within +-u of the midline ...
    v: tuple[float, float] = (-0.8, 0.4)  # ... and this range of v
    ring: float = 0.028  # ring radius
    ring_points: int = 24
    ring_line: tuple[float, float] = (0.0055, 0.7)
    wire_u: float = 0.5  # the wire leaves the film within +-wire_u of the electrode ...
    wire_up: float = 0.8  # ... this much higher
    wire_bend: float = 0.2  # within +-this
    wire: tuple[float, float] = (0.004, 0.4)


@dataclass(frozen=True)
class Sternotomy:
    """Wire loops along the sternum."""

    loops: int = 5
    top: float = -0.45  # the first loop's v ...
    spacing: float = 0.13  # ... the next ones lower by this
    axes: tuple[float, float] = (0.035, 0.014)
    density: float = 1.0
    sharp: float = 5.0


DEVICE_KINDS = ["ett", "ngt", "cvc", "pacemaker", "ecg", "sternotomy"]
STRONG_DEVICES = (2, 3)  # a strong sign has a + floor(b * draw) devices, else one thin line or ECG leads
P_SUBTLE_LINE = 0.6  # the subtle sign is a central line with this probability, else ECG leads
ETT = EndotrachealTube()
NGT = GastricTube()
CVC = CentralLine()
PACEMAKER = Pacemaker()
ECG = EcgLeads()
STERNOTOMY = Sternotomy()


def frontal_devices(film: Film, th: Thorax, s: float, d: np.ndarray) -> None:
    """Strong = 2-4 of tubes, lines, a pacemaker, ECG leads, sternotomy wires; subtle = one thin central
    line or a few ECG leads."""
    if s <= 0:
        return
    metal = np.zeros_like(film.D)
    sub = np.random.default_rng(int(d[2] * 2**31))
    mid = th.mid
    hc_u, hc_v, heart_w, _ = th.heart
    if s >= STRONG_FROM:
        chosen = list(sub.choice(DEVICE_KINDS, size=STRONG_DEVICES[0] + int(d[3] * STRONG_DEVICES[1]), replace=False))
    else:
        chosen = ["cvc" if d[3] < P_SUBTLE_LINE else "ecg"]
    stomach = (th.lungs[1].cu + NGT.stomach[0], th.dome_top[1] + NGT.stomach[1])
    for kind in chosen:
        if kind == "ett":  # endotracheal tube: radiolucent wall, radio-opaque stripe, tip above the carina
            c = ETT
            tip = (mid + c.tip[0], c.tip[1] - c.tip_jitter * sub.random())
            us, vs = curve((mid + c.top[0], c.top[1]), tip, c.bend)
            film.polyline(metal, us, vs, *c.wall)
            film.polyline(metal, us, vs, *c.stripe)
        elif kind == "ngt":  # nasogastric tube down the oesophagus into the stomach
            c = NGT
            hiatus = (mid + c.hiatus[0], th.dome_top[1] + c.hiatus[1])
            u1, v1 = curve((mid + c.top[0], c.top[1]), hiatus, c.bends[0])
            u2, v2 = curve(hiatus, stomach, c.bends[1])
            film.polyline(metal, np.r_[u1, u2], np.r_[v1, v2], *c.wall)
            film.polyline(metal, np.r_[u1, u2], np.r_[v1, v2], *c.stripe)
        elif kind == "cvc":  # central venous line from a subclavian vein to the superior vena cava
            c = CVC
            side = -1.0 if sub.random() < c.p_right else 1.0
            start = (mid + side * c.start[0], c.start[1])
            us, vs = curve(start, (mid + side * c.tip[0], c.tip[1] + c.tip_jitter * sub.random()), c.bend * side)
            film.polyline(metal, us, vs, *(c.strong if s >= STRONG_FROM else c.subtle))
        elif kind == "pacemaker":  # generator under the clavicle, leads into the right heart
            c = PACEMAKER
            side = 1.0 if sub.random() < c.p_left else -1.0
            gu = mid + side * (c.u[0] + c.u[1] * sub.random())
            gv = th.apex + c.below_apex[0] + c.below_apex[1] * sub.random()
            film.ellipse(gu, gv, *c.axes, c.density, sharp=c.sharp, target=metal)
            leads = (
                (hc_u + c.atrium[0] * heart_w, hc_v + c.atrium[1]),
                (hc_u + c.ventricle[0] * heart_w, hc_v + c.ventricle[1]),
            )
            for target in leads:
                us, vs = curve((gu, gv), target, c.bend * side)
                film.polyline(metal, us, vs, *c.lead)
        elif kind == "ecg":  # electrodes (rings) and their wires
            c = ECG
            for _ in range(c.count[0] + int(sub.random() * c.count[1])):
                eu, ev = mid + sub.uniform(-c.u, c.u), sub.uniform(*c.v)
                ring = np.linspace(0, 2 * math.pi, c.ring_points)
                film.polyline(metal, eu + c.ring * np.cos(ring), ev + c.ring * np.sin(ring), *c.ring_line)
                end = (eu + sub.uniform(-c.wire_u, c.wire_u), ev - c.wire_up)
                us, vs = curve((eu, ev), end, sub.uniform(-c.wire_bend, c.wire_bend))
                film.polyline(metal, us, vs, *c.wire)
        elif kind == "sternotomy":  # wire loops along the sternum
            c = STERNOTOMY
            for k in range(c.loops):
                film.ellipse(mid, c.top + c.spacing * k, *c.axes, c.density, sharp=c.sharp, target=metal)
    film.D += metal


# ---------------------------------------------------------------------------------------------
# Lateral film: the patient faces the image's left (anterior at negative u).


@dataclass(frozen=True)
class LateralDevices:
    tube_top: tuple[float, float] = (-0.12, -1.5)  # a tube down the midline from here ...
    tube_tip: tuple[float, float] = (0.0, -0.45)  # ... to here
    tube_bend: float = 0.05
    tube_half: tuple[float, float] = (0.012, 0.005)  # half-width when strong, subtle
    tube: float = 0.5  # density
    p_pacemaker: float = 0.4  # strong: a pacemaker in front with this probability
    pacemaker: tuple[float, float, float, float] = (-0.6, -0.55, 0.04, 0.09)  # centre, half-axes (seen edge-on)
    pacemaker_density: float = 1.8
    pacemaker_sharp: float = 12.0


LATERAL_DEVICES = LateralDevices()


def lateral_devices(film: Film, s: float, d: np.ndarray) -> None:
    """Support devices at full resolution: a tube down the midline, a pacemaker in front."""
    if s <= 0:
        return
    c = LATERAL_DEVICES
    metal = np.zeros_like(film.D)
    us, vs = curve(c.tube_top, c.tube_tip, c.tube_bend)
    film.polyline(metal, us, vs, c.tube_half[0] if s >= STRONG_FROM else c.tube_half[1], c.tube)
    if s >= STRONG_FROM and d[4] < c.p_pacemaker:
        film.ellipse(*c.pacemaker, c.pacemaker_density, sharp=c.pacemaker_sharp, target=metal)
    film.D += metal
