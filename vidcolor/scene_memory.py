"""A shot's scene memory: what a still (or panning) camera's static background is coloured, gathered over the shot.

The model colours an unchanging background a little differently from frame to frame, and slowly: on a fixed
street camera the asphalt's mean a* swings between -10 and +24 over seconds as a car crosses, slower than any
frame-to-frame smoothing follows. The memory holds, per pixel at the model's working size, the a*b* the
predictions gave it while its lightness stayed the same, with a confidence that grows with every prediction that
agrees; once sure, a prediction that disagrees hardly moves it. A frame takes the memory's colour where its
lightness still matches the memory's (the background), and keeps its own, smoothed, where it does not (a car, a
person): lightness is what the memory can check, colour is what it remembers.

What the predictions of a background pixel cannot agree on, the memory does not know: it also keeps how far they
spread around its colour (their mean squared a*b* distance from it, weighed as its colour is), and gives the
background its colour times |colour|² / (|colour|² + spread). A colour the predictions keep coming back to stays;
one they swing across fades toward grey (on a fixed traffic camera the asphalt swings from blue to red and back
as cars pass: by a single frame's statistics that is a confident colour, by the shot's it is a guess). A known
colour (``seed``) counts as that many predictions that agree.

What the background says of the model holds for what moves through it too: a model that cannot agree with itself
on a scene's road paints its cars' glow just as freely. In files (``fades_what_moves``) a frame's own colour, where
it is not the background, is scaled by the share of the colour the predictions put on the sure background that
they agree on (their mean |a*b*|² is the memory's colour's energy plus the spread). The fixed traffic camera keeps
about two fifths of it, and the red glow around each car fades with the asphalt's blue (issue 34: PSNR 39.15 ->
41.29 dB against its grey picture's 43.08); the other shared clips keep nearly all (within 0.02 dB). Live does not:
its memory learns the shot while the viewer watches, and a share that falls over a shot's first seconds fades
every colour on screen (CDC counts it: pedestrians_street 2.89 -> 3.09x the truth's); a file's frame leaves the
look-ahead with 24 to 48 later frames already in the memory.

The doubt is of the model's colour, and so is the memory's authority: where a person's hints gave the colour
(``told``: how far each pixel took them), the memory neither fades it nor puts its own in its place, live or in
files — a coat hinted red on a doubted road stays red, a wall hinted blue after the memory was sure of grey turns
blue at once. A reference's colour needs no such care: it seeds the memory (``seed``) and is its colour.

The camera may move as a whole: the smoother's flow, fitted with one similarity transform (RANSAC), says how, and
the memory is moved with it once that adds up to half a pixel (a still camera's memory is never resampled, so
never blurred). A change of lighting shifts every level alike: the frame's median difference from the memory is
taken out before they are compared, and the memory's lightness follows it slowly. A pixel that stays unlike the
memory for about two seconds at 30 fps (a parked car, a door left open) is forgotten there and learnt anew; one a
crowd keeps crossing is not. A cut starts a new memory (the smoothers own the cut cues). Memory: a handful of planes
at the model's working size, per shot.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .motion import MotionLink, blend, pixel_grid, pixel_points, squared_norm

LIGHTNESS_TOLERANCE = 16.0  # L* levels (0..255) off the memory's at which a pixel stops counting as the background
COLOUR_TOLERANCE = 8.0  # a*b* distance at which a sure memory weighs a prediction half
SURE_AFTER = 3.0  # agreeing frames after which a pixel's memory is half sure (and half outweighs the frame)
MOST_FRAMES = 600  # the memory is a mean over at most this many frames (24 s at 25 fps): it still follows
LIGHTNESS_RATE = 0.05  # how fast the memory's lightness follows a matching frame's (lighting that drifts)
# frames over which unlikeness is averaged; a pixel past FORGET_LEVEL is learnt anew: 40 frames' average passes 0.8
# after 64 unlike frames (2.1 s at 30 fps). 25 (40 frames, 1.3 s) forgot the pavement of a busy street wherever people
# kept crossing it and learnt it anew from their colours: live CDC / truth on pedestrians_street 3.13 -> 2.89x
FORGET_AFTER = 40.0
FORGET_LEVEL = 0.8
EDGE = 5  # px: the neighbourhood whose lightness is compared with the memory's
MOTION_TOLERANCE = 1.0  # px a pixel's flow may differ from the camera's and the pixel still count as standing still
TEXTURE = 25.0  # Sobel response (L* levels) at which a pixel's flow counts half: texture that shows motion
MOTION_AGREE = 0.8  # a motion is taken only from a frame its flow explains this far, fitting this share of samples
MOTION_STEP = 16  # px between the flow samples the camera's motion is fitted on
STILL = 0.3  # px: a fitted motion that moves no corner further is no motion (the flow is biased ~0.13 px
# toward whatever moves on a still synthetic gradient; summed over frames that drifted the memory 4 px)
RESAMPLE = 0.5  # px: the memory is moved onto the newest frame once the camera has moved this far
SHOT_EVIDENCE = 1e-3  # colour energy that stands for "no colour to judge by": the shot's share is then 1

Transform = np.ndarray  # (3, 3) float64: a frame's pixel -> the same point in another frame's coordinates


@dataclass(frozen=True)
class Observed:
    """What ``SceneMemory.apply`` needs of a frame it observed: where the frame is in the shot (its pixel -> the
    shot's first frame's), and how far each pixel moved as the camera did (h, w, 0..1; None: not known, the
    shot's first frame)."""

    to_shot: Transform
    still: np.ndarray | None


class SceneMemory:
    """One shot. ``observe`` each frame in order (its L* levels, the model's planes, and how it moves onto the frame
    before), then ``apply`` it to any frame observed so far with the transform ``observe`` returned for it."""

    def __init__(self, fades_what_moves: bool = False) -> None:
        self.fades_what_moves = fades_what_moves  # the shot's doubt fades the colour of what moves too (files)
        self.planes: np.ndarray | None = None  # (h, w, C) float32: the remembered colour
        self.confidence: np.ndarray | None = None  # (h, w) float32: frames' worth of agreeing evidence
        self.lightness: np.ndarray | None = None  # (h, w) float32: the background's L* levels
        self.unlike: np.ndarray | None = None  # (h, w) float32: recent share of frames unlike the memory
        self.spread: np.ndarray | None = None  # (h, w) float32: predictions' mean squared a*b* distance from it
        self._placed = np.eye(3)  # the memory's pixel -> the shot's first frame's
        self._newest = np.eye(3)  # the newest frame's pixel -> the shot's first frame's

    def seed(self, planes: np.ndarray, trust: np.ndarray, levels: np.ndarray, frames: float = MOST_FRAMES) -> None:
        """A known colour (h, w, C) of the newest frame's view, e.g. a reference picture's moved onto it, taken as
        ``frames`` agreeing predictions where ``trust`` (h, w, 0..1) says it holds; call after that frame's
        ``observe``. ``levels``: that frame's L*. A colour of other planes than the memory's (a*b* where the memory
        also holds the daylight rendering's L*) says nothing of them: it is not taken."""
        if self.planes is None:
            raise ValueError("seed a memory after observing the frame the colour is given for")
        if planes.shape[-1] != self.planes.shape[-1]:
            return
        weight = (frames * trust).astype(np.float32)
        total = self.confidence + weight
        self.planes += (weight / np.maximum(total, 1e-6))[..., None] * (planes - self.planes)
        self.spread *= self.confidence / np.maximum(total, 1e-6)  # the known colour's weight adds no spread
        self.confidence = np.minimum(total, MOST_FRAMES)
        self.lightness = np.where(trust > 0.5, levels.astype(np.float32), self.lightness)

    def observe(self, levels: np.ndarray, predicted: np.ndarray, to_previous: MotionLink | None) -> Observed:
        """A frame's L* levels (h, w) uint8, the model's planes (h, w, C), and where its pixels were in the frame
        before (None for the shot's first) -> what ``apply`` needs of the frame."""
        lightness = levels.astype(np.float32)
        if self.planes is None:
            self.planes, self.lightness = predicted.astype(np.float32), lightness
            self.confidence, self.unlike = np.ones_like(lightness), np.zeros_like(lightness)
            self.spread = np.zeros_like(lightness)
            return Observed(self._newest.copy(), None)
        still = None
        if to_previous is not None:
            motion = camera_motion(to_previous)
            still = _moves_with(to_previous, motion, lightness)
            self._newest = self._newest @ motion
            self._follow()
        looks_alike, shifted = self._match(lightness)
        match = looks_alike if still is None else looks_alike * still
        # a sure memory weighs a prediction by how far it agrees; an unsure one takes every prediction alike
        difference = cv2.subtract(predicted, self.planes)
        squared = squared_norm(difference)
        distance = squared / COLOUR_TOLERANCE**2
        sure = self.confidence / (self.confidence + SURE_AFTER)
        weight = match * (1 - sure * distance / (1 + distance))
        total = self.confidence + weight
        share = weight / np.maximum(total, 1e-6)
        if predicted.shape[-1] > 2:  # the daylight rendering's L* after a*b*: the spread is of the colour alone
            squared = squared_norm(_chroma(difference))
        self.spread += share * (squared - self.spread)
        self.planes = blend(self.planes, predicted, share)
        self.confidence = np.minimum(total, MOST_FRAMES, out=total)
        self.lightness += (LIGHTNESS_RATE * match) * (shifted - self.lightness)
        self.unlike += (1 - looks_alike - self.unlike) / FORGET_AFTER
        # something else stands there now, or the camera has just brought it into view: learn it anew
        gone = (self.unlike > FORGET_LEVEL) | (self.confidence < 0.5)
        if gone.any():
            mask = gone.view(np.uint8)
            for plane, value in ((self.planes, predicted), (self.lightness, lightness)):
                cv2.copyTo(value, mask, plane)  # in place; a tenth of NumPy's masked assignment
            self.confidence[gone], self.unlike[gone], self.spread[gone] = 1.0, 0.0, 0.0
        return Observed(self._newest.copy(), still)

    def apply(self, levels: np.ndarray, planes: np.ndarray, observed: Observed,
              told: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """A frame's L* levels (h, w) and smoothed planes (h, w, C) -> the memory's colour where the frame shows the
        background the memory knows, weighed by how sure it is; ``observed``: what ``observe`` returned for it.
        ``told`` (h, w, 0..1): where the frame's colour is a person's hints' (``Colorizer.guided``), which the
        memory neither overrides nor fades: its doubt is of the model's colour."""
        if self.planes is None:
            return planes
        remembered, confidence, lightness, spread = self.planes, self.confidence, self.lightness, self.spread
        onto_frame = np.linalg.inv(self._placed) @ observed.to_shot
        if _reach(onto_frame, *levels.shape) > RESAMPLE:  # a frame the camera has since moved away from
            confidence, remembered, lightness, spread = _moved(onto_frame, self.confidence, self.planes,
                                                               self.lightness, self.spread)  # fmt: skip
        match, _ = self._match(levels.astype(np.float32), lightness)
        if observed.still is not None:
            match *= observed.still
        energy, keep = _fading(remembered, spread)
        sure = confidence / (confidence + SURE_AFTER)
        if self.fades_what_moves:
            shot = _shot_keeps(energy, spread, sure)
            planes = _with_chroma_times(planes, shot if told is None else shot + (1 - shot) * told)
        taken = match * sure if told is None else match * sure * (1 - told)
        return blend(planes, _with_chroma_times(remembered, keep), taken)

    def _match(self, lightness: np.ndarray, memory: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """How far each pixel of a frame's L* is the background's (h, w, 0..1), and the L* with the frame's overall
        lighting change taken out."""
        memory = self.lightness if memory is None else memory
        shifted = lightness - median(lightness[::4, ::4] - memory[::4, ::4])
        difference = (shifted - memory) / LIGHTNESS_TOLERANCE
        # averaged over a neighbourhood: a pixel of noise does not count, a moving thing's rim does
        return np.exp(-cv2.blur(difference * difference, (EDGE, EDGE))), shifted

    def _follow(self) -> None:
        """Move the memory onto the newest frame once the camera has moved far enough from where it was."""
        onto_newest = np.linalg.inv(self._placed) @ self._newest
        if _reach(onto_newest, *self.lightness.shape) > RESAMPLE:
            self.confidence, self.planes, self.lightness, self.unlike, self.spread = _moved(
                onto_newest, self.confidence, self.planes, self.lightness, self.unlike, self.spread)  # fmt: skip
            self._placed = self._newest.copy()


def _fading(planes: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The memory's colour energy |a*b*|² (h, w) and the share of its a*b* the fading keeps, |a*b*|² / (|a*b*|² +
    spread): what the predictions agreed on kept, what they swung across faded toward grey."""
    energy = squared_norm(_chroma(planes))
    return energy, energy / np.maximum(energy + spread, 1e-6)


def _chroma(planes: np.ndarray) -> np.ndarray:
    """The a*b* of planes (h, w, C; a*b* first), contiguous (OpenCV copies strided arrays on every call)."""
    return planes if planes.shape[-1] == 2 else np.ascontiguousarray(planes[..., :2])


def _shot_keeps(energy: np.ndarray, spread: np.ndarray, sure: np.ndarray) -> float:
    """Of the colour the predictions put on the background the memory is sure of (their mean |a*b*|², the
    memory's colour's energy plus the spread around it), the share they agree on; 1 where they put none."""
    agreed = cv2.sumElems(sure * energy)[0]
    return float((agreed + SHOT_EVIDENCE) / (agreed + cv2.sumElems(sure * spread)[0] + SHOT_EVIDENCE))


def _with_chroma_times(planes: np.ndarray, factor: np.ndarray | float) -> np.ndarray:
    """``planes`` (h, w, C; a*b* first) with a*b* times ``factor`` ((h, w) or a number); what follows a*b* as is."""
    factor = factor[..., None] if isinstance(factor, np.ndarray) else np.float32(factor)
    if planes.shape[-1] == 2:
        return planes * factor
    scaled = planes.copy()
    scaled[..., :2] *= factor
    return scaled


def median(values: np.ndarray) -> np.float32:
    """``np.median`` of a float32 array, in a tenth of its time on a frame's samples (0.35 ms for 64x112): for an
    even count numpy partitions around both middle elements; the lower one is the largest of those that one
    partition around the upper leaves before it."""
    flat = values.ravel()
    upper = flat.size // 2
    part = np.partition(flat, upper)
    return part[upper] if flat.size % 2 else (part[:upper].max() + part[upper]) / 2


def remember(memory: SceneMemory | None, levels: np.ndarray, predicted: np.ndarray, to_previous: MotionLink | None,
             fades_what_moves: bool = False) -> tuple[SceneMemory, Observed]:  # fmt: skip
    """A frame into its shot's memory (``SceneMemory.observe``); a new memory where the shot starts (``to_previous``
    None: a stream's first frame, or a cut), ``fades_what_moves`` as ``SceneMemory``'s. -> the memory, and what its
    ``apply`` needs of the frame."""
    if to_previous is None or memory is None:
        memory = SceneMemory(fades_what_moves)
    return memory, memory.observe(levels, predicted, to_previous)


def camera_motion(link: MotionLink) -> Transform:
    """How the camera moved between two frames: the flow of ``link`` (a frame's pixel -> where it is in the other)
    fitted with one rotation, scale and shift on the pixels it trusts; identity where it does not fit, or moves no
    corner more than STILL."""
    samples = link.points[::MOTION_STEP, ::MOTION_STEP]
    map_x, map_y = samples[..., 0], samples[..., 1]
    grid_x, grid_y = pixel_grid(*link.trust.shape)
    trusted = link.trust[::MOTION_STEP, ::MOTION_STEP] > 0.5
    motion = np.eye(3)
    if trusted.sum() < 8 or link.trust.mean() < MOTION_AGREE:  # a frame the flow half fails on: its fit is noise
        return motion
    source = np.stack([grid_x[::MOTION_STEP, ::MOTION_STEP][trusted], grid_y[::MOTION_STEP, ::MOTION_STEP][trusted]], 1)
    fitted, inliers = cv2.estimateAffinePartial2D(source, np.stack([map_x[trusted], map_y[trusted]], 1),
                                                  ransacReprojThreshold=1.0)  # fmt: skip
    if fitted is None or inliers.mean() < MOTION_AGREE:  # no one motion: the camera moved, but not as a whole
        return motion
    motion[:2] = fitted
    height, width = link.trust.shape
    return motion if _reach(motion, height, width) > STILL else np.eye(3)


def _moves_with(link: MotionLink, motion: Transform, lightness: np.ndarray) -> np.ndarray:
    """How far each pixel moved as the camera did (``motion``) by its flow (``link``): toward 0 where it moved on its
    own (a car, a walker). Only texture shows motion: on flat ground the flow is dragged along by whatever moves
    nearby (2-4 px on the asphalt around a passing car), so there the lightness alone decides (1)."""
    with_camera = cv2.transform(pixel_points(*link.trust.shape), motion[:2])  # where the camera took each pixel
    off = cv2.subtract(link.points, with_camera)
    moved = 1 - np.exp(squared_norm(off) * np.float32(-1 / MOTION_TOLERANCE**2))
    across, down = cv2.Sobel(lightness, -1, 1, 0), cv2.Sobel(lightness, -1, 0, 1)
    texture = cv2.blur(cv2.add(cv2.multiply(across, across), cv2.multiply(down, down)), (EDGE, EDGE))
    return 1 - moved * texture / (texture + TEXTURE**2)


def _reach(transform: Transform, height: int, width: int) -> float:
    """How far (px) ``transform`` moves the corners of a frame of this size."""
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], np.float64).T
    return float(np.abs(transform @ corners - corners).max())


def _moved(onto: Transform, confidence: np.ndarray, *planes: np.ndarray) -> list[np.ndarray]:
    """The memory's confidence and planes moved onto a frame's view (``onto``: the frame's pixel -> the memory's);
    what the memory never saw comes in with no confidence."""
    height, width = confidence.shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

    def move(plane: np.ndarray, border: int) -> np.ndarray:
        return cv2.warpAffine(plane, onto[:2], (width, height), flags=flags, borderMode=border)

    seen = move(np.ones_like(confidence), cv2.BORDER_CONSTANT) > 0.5  # a half-pixel step keeps the edge row
    return [move(confidence, cv2.BORDER_REPLICATE) * seen, *(move(p, cv2.BORDER_REPLICATE) for p in planes)]
