"""Procedural captioned video clips: the training data of the embedded demo model and the ground
truth of its prompt-adherence evaluation (issue 9).

A clip shows one or two coloured shapes moving over a background. Everything is decided by a
seed: the scene (`Scene`), its frames (`render`, uint8 RGB [frames, height, width, 3]) and its
caption, generated from a small grammar, e.g.

    a red circle moves left quickly over a navy background with stripes scrolling up,
    then a green square enters from the top

Scenes vary in the ways that make prompts matter and tokens differ in importance over time:
shape, colour, direction and speed of the main object; background colour; a scrolling striped
background (a camera pan); a second object that enters later and passes in front (occlusion).

`measure` recovers, from frames alone, each object colour's visible area and motion, which is
how the evaluation checks that a generated video shows what its prompt asked for.
"""

import dataclasses
from typing import Dict, List, Optional, Tuple

import numpy as np

# Object colours and background colours are far apart in RGB, so that a pixel's nearest palette
# entry tells objects from the background (`measure`).
OBJECT_COLORS: Dict[str, Tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 190, 70),
    "blue": (50, 90, 230),
    "yellow": (240, 215, 40),
    "white": (245, 245, 245),
    "purple": (160, 60, 200),
    "orange": (245, 140, 30),
}
BACKGROUND_COLORS: Dict[str, Tuple[int, int, int]] = {
    "black": (15, 15, 15),
    "gray": (110, 110, 110),
    "navy": (20, 25, 80),
    "teal": (10, 100, 100),
    "brown": (100, 60, 30),
}
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
# Distance travelled over a clip, as a fraction of the frame's size along the motion.
SPEEDS = {"slowly": 0.3, "quickly": 0.6}
SIDES = ("top", "bottom", "left", "right")


def stripe_shade(background: np.ndarray) -> np.ndarray:
    """The brightened shade of background colour(s) `background` (float32 [..., 3]) that its
    stripes have."""
    return np.clip(background * 1.6 + 20, 0, 255)


def background_shades() -> np.ndarray:
    """Every colour a background pixel can have: the plain colours (BACKGROUND_COLORS' order),
    then their stripe shades; float32 [2 * len(BACKGROUND_COLORS), 3]."""
    plain = np.array(list(BACKGROUND_COLORS.values()), np.float32)
    return np.concatenate([plain, stripe_shade(plain)])


@dataclasses.dataclass(frozen=True)
class MovingObject:
    shape: str
    color: str
    # Centre at the first and last frame it is visible in, in fractions of (width, height).
    start: Tuple[float, float]
    end: Tuple[float, float]
    size: float  # Radius as a fraction of min(height, width).
    first_frame: float  # Fraction of the clip at which it appears (0: from the start).


@dataclasses.dataclass(frozen=True)
class Scene:
    background: str
    stripes: Optional[str]  # Direction the background stripes scroll, or None (plain).
    main: MovingObject
    direction: str
    speed: str
    entering: Optional[MovingObject]  # A second object entering later, in front of the main.
    side: Optional[str]  # Where the second object enters from.

    def caption(self) -> str:
        text = (f"{_article(self.main.color)} {self.main.color} {self.main.shape} moves "
                f"{self.direction} {self.speed} over {_article(self.background)} "
                f"{self.background} background")
        if self.stripes is not None:
            text += f" with stripes scrolling {self.stripes}"
        if self.entering is not None:
            text += (f", then {_article(self.entering.color)} {self.entering.color} "
                     f"{self.entering.shape} enters from the {self.side}")
        return text


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def make_scene(seed: int) -> Scene:
    """The scene of clip `seed` (deterministic)."""
    rng = np.random.default_rng(seed)
    pick = lambda options: options[int(rng.integers(len(options)))]
    background = pick(list(BACKGROUND_COLORS))
    stripes = pick(list(DIRECTIONS)) if rng.random() < 0.35 else None
    direction = pick(list(DIRECTIONS))
    speed = pick(list(SPEEDS))
    dx, dy = DIRECTIONS[direction]
    travel = SPEEDS[speed]
    # Start where the whole path stays inside the frame.
    margin = 0.15
    start = tuple(
        float(rng.uniform(margin + max(0.0, -d) * travel, 1 - margin - max(0.0, d) * travel))
        for d in (dx, dy))
    end = (start[0] + dx * travel, start[1] + dy * travel)
    colors = list(OBJECT_COLORS)
    main = MovingObject(shape=pick(list(SHAPES)), color=pick(colors), start=start, end=end,
                        size=float(rng.uniform(0.1, 0.16)), first_frame=0.0)
    entering, side = None, None
    if rng.random() < 0.4:
        side = pick(list(SIDES))
        other = [c for c in colors if c != main.color]
        # From just outside the chosen side towards the frame's middle third.
        target = (float(rng.uniform(0.35, 0.65)), float(rng.uniform(0.35, 0.65)))
        outside = {"top": (target[0], -0.2), "bottom": (target[0], 1.2),
                   "left": (-0.2, target[1]), "right": (1.2, target[1])}[side]
        entering = MovingObject(shape=pick(list(SHAPES)), color=pick(other), start=outside,
                                end=target, size=float(rng.uniform(0.08, 0.13)),
                                first_frame=float(rng.uniform(0.2, 0.5)))
    return Scene(background, stripes, main, direction, speed, entering, side)


def _shape_mask(shape: str, x: np.ndarray, y: np.ndarray, cx: float, cy: float,
                radius: float) -> np.ndarray:
    """Pixels of `shape` centred at (cx, cy) with `radius`, in pixel coordinates."""
    u, v = x - cx, y - cy
    if shape == "circle":
        return u * u + v * v <= radius * radius
    if shape == "square":
        return (np.abs(u) <= radius) & (np.abs(v) <= radius)
    # An upward triangle inscribed in the circle: inside all three edges.
    return (v <= radius * 0.5) & (v >= -radius + np.abs(u) * 1.732)


def render(scene: Scene, frames: int, height: int, width: int) -> np.ndarray:
    """The clip's frames, uint8 RGB [frames, height, width, 3]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.array(BACKGROUND_COLORS[scene.background], np.float32)
    video = np.empty((frames, height, width, 3), np.uint8)
    scale = float(min(height, width))
    for f in range(frames):
        t = f / max(frames - 1, 1)
        frame = np.broadcast_to(base, (height, width, 3)).copy()
        if scene.stripes is not None:
            # Bands across the scrolling direction, moving one period over the clip.
            dx, dy = DIRECTIONS[scene.stripes]
            period = scale / 4
            coordinate = x - dx * t * period if dx else y - dy * t * period
            bright = (np.floor(coordinate / (period / 2)) % 2).astype(bool)
            frame[bright] = stripe_shade(base)
        for obj in (scene.main, scene.entering):
            if obj is None or t < obj.first_frame:
                continue
            s = (t - obj.first_frame) / max(1.0 - obj.first_frame, 1e-6)
            cx = (obj.start[0] + (obj.end[0] - obj.start[0]) * s) * width
            cy = (obj.start[1] + (obj.end[1] - obj.start[1]) * s) * height
            mask = _shape_mask(obj.shape, x, y, cx, cy, obj.size * scale)
            frame[mask] = OBJECT_COLORS[obj.color]
        video[f] = frame.astype(np.uint8)
    return video


def make_clip(seed: int, frames: int, height: int, width: int) -> Tuple[np.ndarray, str, Scene]:
    """Clip `seed`: its frames, its caption and its scene (the ground truth)."""
    scene = make_scene(seed)
    return render(scene, frames, height, width), scene.caption(), scene


@dataclasses.dataclass(frozen=True)
class Track:
    """An object colour as seen in a video."""
    color: str
    area: float  # Mean fraction of the frame it covers, over the frames it is visible in.
    motion: Tuple[float, float]  # Centroid displacement, first to last visible frame, / size.
    direction: Optional[str]  # The dominant direction of `motion`, if it moved noticeably.


def measure(video: np.ndarray, min_area: float = 0.002) -> List[Track]:
    """The object colours visible in `video` (uint8 [frames, height, width, 3]), largest first.

    Each pixel is assigned its nearest palette colour (objects and backgrounds); an object colour
    counts in a frame if it covers at least `min_area` of it."""
    frames, height, width, _ = video.shape
    # Object colours first (`index` below), then the backgrounds with their stripe shades.
    palette = np.concatenate([np.array(list(OBJECT_COLORS.values()), np.float32),
                              background_shades()])
    pixels = video.reshape(frames, -1, 3).astype(np.float32)
    distances = ((pixels[:, :, None, :] - palette[None, None]) ** 2).sum(-1)
    nearest = distances.argmin(-1)  # [frames, pixels]
    y, x = np.divmod(np.arange(height * width), width)
    tracks = []
    for index, name in enumerate(OBJECT_COLORS):
        masks = nearest == index
        areas = masks.mean(1)
        visible = np.nonzero(areas >= min_area)[0]
        if len(visible) == 0:
            continue
        first, last = visible[0], visible[-1]
        centroid = lambda f: (x[masks[f]].mean() / width, y[masks[f]].mean() / height)
        (x0, y0), (x1, y1) = centroid(first), centroid(last)
        motion = (float(x1 - x0), float(y1 - y0))
        direction = None
        if max(abs(motion[0]), abs(motion[1])) >= 0.08:
            if abs(motion[0]) >= abs(motion[1]):
                direction = "right" if motion[0] > 0 else "left"
            else:
                direction = "down" if motion[1] > 0 else "up"
        tracks.append(Track(name, float(areas[visible].mean()), motion, direction))
    return sorted(tracks, key=lambda track: -track.area)


def adherence(video: np.ndarray, scene: Scene) -> Dict[str, bool]:
    """Whether `video` shows `scene`'s main object: its colour is present, and it moves in the
    stated direction."""
    tracks = {track.color: track for track in measure(video)}
    main = tracks.get(scene.main.color)
    return {
        "color": main is not None,
        "direction": main is not None and main.direction == scene.direction,
    }
