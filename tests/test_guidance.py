"""Colour from what is known: hints (file format, planes, the model's hint attention, hints that follow a video)
and a reference picture of the same view."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import run_cli

from vidcolor.color import rgb_to_lab
from vidcolor.errors import InputError
from vidcolor.guidance.hints import HINT_SIDE, Hint, hex_to_ab, hint_planes, read_hints, truth_hints
from vidcolor.guidance.reference import Reference, tones_like, tones_of
from vidcolor.guidance.track import HintTrack
from vidcolor.models.mobile_unet import MobileUNet, MobileUNetConfig

BLUE = "#1f4fa0"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
STREET = SAMPLES / "street_gray.png"


def write_hints(path, document) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def test_a_hints_file_reads_as_places_and_colours(tmp_path):
    path = write_hints(tmp_path / "h.json", {"hints": [{"x": 0.31, "y": 0.52, "color": BLUE},
                                                       {"x": 1, "y": 0, "color": "#ffffff", "time": 2.5}]})
    first, second = read_hints(path)
    a, b = hex_to_ab(BLUE)
    assert (first.x, first.y, first.time) == (0.31, 0.52, 0.0)
    assert (first.a, first.b) == pytest.approx((a, b)) and b < -30  # a blue: b* well below zero
    assert abs(second.a) < 0.5 and abs(second.b) < 0.5 and second.time == 2.5  # white has no a*b*


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"hint": []}, 'expected {"hints"'),
        ({"hints": [{"x": 1.5, "y": 0.5, "color": BLUE}]}, "hint 1: x must be a number 0 to 1, got 1.5"),
        ({"hints": [{"x": 0.5, "y": 0.5}]}, "hint 1: color must be sRGB hex"),
        ({"hints": [{"x": 0.5, "y": 0.5, "color": BLUE}, {"x": 0.5, "y": 0.5, "color": "blue"}]}, "hint 2: color"),
        ({"hints": [{"x": 0.5, "y": 0.5, "color": BLUE, "time": -1}]}, "time must be a number at least 0"),
        ({"hints": [{"x": 0.5, "y": 0.5, "color": BLUE, "colour": BLUE}]}, "unknown field 'colour'"),
    ],
)
def test_a_malformed_hints_file_is_one_line_naming_what_is_wrong(tmp_path, document, named):
    path = write_hints(tmp_path / "h.json", document)
    with pytest.raises(InputError) as caught:
        read_hints(path)
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_a_hints_file_that_is_not_json_is_one_line(tmp_path):
    path = tmp_path / "h.json"
    path.write_text('{"hints": [')
    with pytest.raises(InputError, match="not JSON"):
        read_hints(path)


def test_hint_planes_put_each_hint_where_its_fractions_say():
    planes = hint_planes([Hint(0.5, 0.25, 40.0, -20.0)], 64, 32)
    rows, cols = planes[2].nonzero(as_tuple=True)
    assert planes[2].sum() == HINT_SIDE**2
    assert rows.float().mean() == 16 and cols.float().mean() == 16
    assert torch.all(planes[0][planes[2] > 0] == 40) and torch.all(planes[1][planes[2] > 0] == -20)
    assert torch.all(planes[:2][:, planes[2] == 0] == 0)


def test_truth_hints_are_the_truths_mean_colour_and_repeat_with_their_seed():
    truth = np.zeros((40, 60, 3), np.uint8)
    truth[:, :30] = (200, 30, 30)  # red left half, blue right half
    truth[:, 30:] = (30, 30, 200)
    hints = truth_hints(truth, 10, torch.Generator().manual_seed(3))
    assert hints == truth_hints(truth, 10, torch.Generator().manual_seed(3))
    for hint in hints:
        if abs(hint.x - 0.5) > 0.1:  # away from the edge between the halves, a hint is its half's colour
            assert (hint.b > 20) == (hint.x < 0.5)  # red b* > 0, blue b* < 0


@pytest.fixture(scope="module")
def hinted_network() -> MobileUNet:
    """A small untrained network with hint attention whose weights are all non-zero."""
    torch.manual_seed(0)
    model = MobileUNet(MobileUNetConfig(decoder_widths=(32, 24, 16, 16), scene_width=8, hint_keys=8)).eval()
    for parameter in model.parameters():
        parameter.data.normal_(0, 0.1)
    return model


def test_without_hints_the_model_is_the_automatic_one_to_the_bit(hinted_network):
    lightness = torch.rand(2, 1, 64, 96) * 100
    with torch.no_grad():
        automatic = hinted_network(lightness)
        assert torch.equal(hinted_network(lightness, torch.zeros(2, 3, 64, 96)), automatic)
        half = hinted_network.half()
        try:  # float16 (the CUDA backend): no NaN from the unhinted cells, still exactly the automatic colour
            assert torch.equal(half(lightness.half(), torch.zeros(2, 3, 64, 96).half()), half(lightness.half()))
        finally:
            hinted_network.float()


def test_a_sure_hint_gives_its_place_its_colour_but_not_a_thin_white_line_beside_it(hinted_network):
    lightness = 40 + torch.rand(1, 1, 64, 96) * 4  # a red coat's texture, say
    lightness[..., 40, :] = 96.0  # and a white thread across it, 8 pixels below the hint
    hints = hint_planes([Hint(0.5, 0.5, 60.0, -40.0)], 64, 96)[None]
    with torch.no_grad():
        hinted_network.hints.nothing.fill_(-50.0)  # "nothing matches" out of reach: every cell takes the hint
        out = hinted_network(lightness, hints)
    assert out[0, :, 32, 48].tolist() == pytest.approx([60.0, -40.0], abs=1.0)
    thread = out[0, :, 40, 48]  # the hint's hue with its share of white's little room for chroma
    assert float(thread.norm()) < 0.4 * math.hypot(60.0, -40.0)
    assert float(torch.cosine_similarity(thread, torch.tensor([60.0, -40.0]), dim=0)) > 0.95


def moving_square(frames: int, step: int) -> list[torch.Tensor]:
    """L* (1, 1, 64, 96) frames of a bright square on a textured ground, moving right ``step`` pixels a frame."""
    ground = cv2.GaussianBlur(np.random.default_rng(0).uniform(20, 40, (64, 96)).astype(np.float32), (5, 5), 2)
    out = []
    for t in range(frames):
        picture = ground.copy()
        picture[24:40, 10 + step * t : 26 + step * t] = 90
        out.append(torch.from_numpy(picture)[None, None])
    return out


def test_a_video_hint_follows_what_it_was_put_on_from_its_time_to_the_cut():
    track = HintTrack([Hint(18 / 96, 32 / 64, 50.0, 0.0), Hint(0.9, 0.1, 0.0, 50.0, time=0.3)])
    frames = moving_square(6, 4)
    shown = [track.planes(frame, [t * 0.1]) for t, frame in enumerate(frames)]
    first_cols = shown[0][0, 2].nonzero()[:, 1].float().mean()
    last = shown[5][0]
    on_square = last[2] * (last[0] == 50)
    assert on_square.nonzero()[:, 1].float().mean() - first_cols == pytest.approx(20, abs=3)  # 5 frames x 4 px
    assert shown[2][0, 1].max() == 0 and shown[3][0, 1].max() == 50  # the second hint from 0.3 s on
    other_shot = torch.full((1, 1, 64, 96), 80.0)
    other_shot[..., :32, :] = 5.0
    assert track.planes(other_shot, [0.6]) is None  # a cut ends both


def test_tones_like_undoes_an_exposure_change():
    rng = np.random.default_rng(1)
    reference = cv2.GaussianBlur(rng.uniform(30, 220, (60, 80)).astype(np.uint8), (7, 7), 3)
    darker = np.clip(reference.astype(np.float32) * 0.6 + 5, 0, 255).astype(np.uint8)
    assert np.abs(tones_like(darker, tones_of(reference)).astype(int) - reference).mean() < 2
    assert np.abs(darker.astype(int) - reference).mean() > 30


def test_a_reference_of_the_same_view_gives_its_colours_and_another_view_none():
    rng = np.random.default_rng(2)
    rgb = cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), (96, 64), interpolation=cv2.INTER_CUBIC)
    reference = Reference(rgb)
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255)
    predicted = torch.zeros(1, 2, 64, 96)
    same = reference.apply(reference.links(lab[:, :1]), predicted)
    assert (same - lab[:, 1:]).abs().mean() < 3 and lab[:, 1:].abs().mean() > 15
    other = torch.from_numpy(rng.uniform(0, 100, (1, 1, 64, 96)).astype(np.float32))
    assert reference.links(other) == [None]
    assert reference.apply([None], predicted).abs().mean() < 1


def test_hints_for_a_model_without_hint_attention_are_refused_in_one_line(tmp_path):
    hints = write_hints(tmp_path / "h.json", {"hints": [{"x": 0.5, "y": 0.5, "color": BLUE}]})
    run = run_cli(STREET, "-o", tmp_path / "out.png", "--sensor", "thermal", "--hints", hints)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith("vidcolor: error: model thermal") and "hint" in run.stderr
    assert not (tmp_path / "out.png").exists()


def test_a_malformed_hints_file_is_refused_before_the_model_loads(tmp_path):
    hints = write_hints(tmp_path / "h.json", {"hints": [{"x": 2, "y": 0.5, "color": BLUE}]})
    run = run_cli(STREET, "-o", tmp_path / "out.png", "--hints", hints)
    assert run.returncode == 1 and "hint 1: x must be a number 0 to 1, got 2" in run.stderr
    assert "backend" not in run.stderr  # refused before the model loaded (it logs its backend)


def test_shipped_model_colours_a_hinted_place_toward_the_hint():
    from vidcolor import Colorizer

    grey = cv2.imread(str(STREET), cv2.IMREAD_GRAYSCALE)
    colorizer = Colorizer(backend="cpu", model="fast")
    a, b = hex_to_ab(BLUE)
    automatic = colorizer.colorize_image(grey)
    hinted = colorizer.colorize_image(grey, hints=[Hint(0.5, 0.5, a, b)])
    row, col = grey.shape[0] // 2, grey.shape[1] // 2

    def ab_at(rgb: np.ndarray) -> np.ndarray:
        patch = torch.from_numpy(rgb[row - 1 : row + 2, col - 1 : col + 2]).permute(2, 0, 1).float()[None] / 255
        return rgb_to_lab(patch)[0, 1:].mean(dim=(1, 2)).numpy()

    target = np.array([a, b])
    assert np.linalg.norm(ab_at(hinted) - target) < 0.5 * np.linalg.norm(ab_at(automatic) - target)


def test_a_reference_frame_colours_a_fixed_cameras_clip(tmp_path):
    import av

    with av.open(str(SAMPLES / "traffic_color.mp4")) as clip:
        truth = [frame.to_ndarray(format="rgb24") for frame in clip.decode(video=0)]
    reference = tmp_path / "day.png"
    cv2.imwrite(str(reference), cv2.cvtColor(truth[0], cv2.COLOR_RGB2BGR))
    scores = {}
    for name, extra in (("automatic", []), ("reference", ["--reference", str(reference)])):
        out = tmp_path / f"{name}.mp4"
        assert run_cli(SAMPLES / "traffic_gray.mp4", "-o", out, "-q", *extra).returncode == 0
        with av.open(str(out)) as made:
            frames = [frame.to_ndarray(format="rgb24").astype(np.float64) for frame in made.decode(video=0)]
        assert len(frames) == len(truth)
        mse = np.mean([np.mean((f - t) ** 2) for f, t in zip(frames, truth, strict=True)])
        scores[name] = 10 * np.log10(255**2 / mse)
    assert scores["reference"] > scores["automatic"] + 3, scores  # 38.7 against 34.6 dB (the gates fade the guess)


def test_a_thermal_frame_takes_the_references_colour_but_not_on_what_is_hot():
    rgb = np.zeros((64, 96, 3), np.uint8)
    rgb[:, :48] = (40, 160, 40)  # a green left half, a grey right half
    rgb[:, 48:] = (120, 120, 120)
    seen = torch.full((1, 1, 64, 96), 20.0)
    seen[..., 28:36, 10:16] = 95.0  # a hot person on the green
    planes = torch.full((1, 3, 64, 96), 7.0)  # the model's a*, b* and daylight correction
    out = Reference(rgb).apply_to_thermal(seen, planes)
    green = rgb_to_lab(torch.tensor([40, 160, 40]).float().view(1, 3, 1, 1) / 255)[0, :, 0, 0]
    assert out[0, :2, 5, 30].tolist() == pytest.approx(green[1:].tolist(), abs=1.5)  # the reference's colour
    assert out[0, 2, 5, 30] == pytest.approx(float(green[0]) - 20, abs=1.5)  # and its lightness, relit
    assert out[0, :, 32, 13].tolist() == pytest.approx([7.0, 7.0, 7.0])  # the hot person keeps the model's


def test_the_int8_graph_follows_hints_as_the_float_network_does():
    """Hinted frames on onnxruntime run the shipped int8 graph (its features handed out), not the float network."""
    pytest.importorskip("onnx")
    from vidcolor.backends.onnxruntime_cpu import OnnxRuntimeCPUBackend
    from vidcolor.backends.pytorch import TorchCPUBackend
    from vidcolor.models.presets import PRESETS
    from vidcolor.train.hints import hint_network

    network = hint_network(PRESETS["fast"].weights).eval()
    int8 = OnnxRuntimeCPUBackend(network, graph=PRESETS["fast"].int8)
    assert int8.takes_hints
    lightness = torch.from_numpy(cv2.resize(cv2.imread(str(STREET), cv2.IMREAD_GRAYSCALE), (448, 256))).float()
    lightness = (lightness / 2.55)[None, None]
    hints = hint_planes([Hint(0.3, 0.6, 50.0, -30.0), Hint(0.7, 0.3, -20.0, 40.0)], 256, 448)[None]
    hinted, float_hinted = int8.infer_hinted(lightness, hints), TorchCPUBackend(network).infer_hinted(lightness, hints)
    assert (hinted - float_hinted).abs().mean() < 1.5  # int8's own difference from float, no more
    assert (hinted - int8.infer(lightness)).abs().amax() > 10  # and the hints did move the colour


def test_live_with_a_daytime_reference_shows_the_views_own_colour(tmp_path):
    """The fixed camera of traffic_gray paints its grey asphalt blue on its own; with a colour frame of its view as
    the reference, live mode shows the asphalt grey, as it is."""
    import av

    with av.open(str(SAMPLES / "traffic_color.mp4")) as clip:
        day = next(clip.decode(video=0)).to_ndarray(format="bgr24")
    cv2.imwrite(str(tmp_path / "day.png"), day)
    chroma = {}
    for name, extra in (("automatic", []), ("reference", ["--reference", tmp_path / "day.png"])):
        record = tmp_path / f"{name}.mp4"
        result = run_cli("live", SAMPLES / "traffic_gray.mp4", "--no-window", "--frames", "12", "--record", record,
                         *extra, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr
        with av.open(str(record)) as made:
            frames = [frame.to_ndarray(format="yuv444p") for frame in made.decode(video=0)]
        chroma[name] = float(np.mean([np.abs(f[1:].astype(np.float32) - 128).mean() for f in frames]))
    assert chroma["reference"] < 0.5 * chroma["automatic"], chroma


def test_a_reference_seeds_live_modes_scene_memory():
    """The reference's colour, carried onto the frame by its links, is what the scene memory starts from: as many
    agreeing frames where the reference holds, where the model's own first guess counts once."""
    from vidcolor import Colorizer
    from vidcolor.color import YuvFormat
    from vidcolor.temporal import TemporalSmoother

    day = traffic_truth(1)[0]
    luma = cv2.cvtColor(day, cv2.COLOR_RGB2GRAY)[None]  # the same view in grey: the reference holds everywhere
    colorizer, fmt = Colorizer(), YuvFormat(full_range=True, matrix="bt601")
    plain, seeded = TemporalSmoother(0.9), TemporalSmoother(0.9)
    colorizer.predict(luma, fmt, plain)
    colorizer.predict(luma, fmt, seeded, Reference(day))
    assert plain.memory.confidence.max() == 1.0
    assert np.median(seeded.memory.confidence) > 10.0


def test_a_reference_seeds_file_modes_scene_memory():
    """The same in file mode: the guide's known colour goes with the frame into the look-ahead smoother."""
    from vidcolor import Colorizer
    from vidcolor.guidance.video import VideoGuide
    from vidcolor.lookahead import LookAheadSmoother

    day = traffic_truth(1)[0]
    colorizer = Colorizer()
    luma = torch.from_numpy(cv2.cvtColor(day, cv2.COLOR_RGB2GRAY))[None]
    model_input = colorizer.model_input(colorizer.lightness_from_luma(luma, True))
    memories = {}
    for name, reference in (("plain", None), ("seeded", Reference(day))):
        guide, smoother = VideoGuide(colorizer, reference=reference), LookAheadSmoother(0.9)
        run = guide.run_network(model_input, None)
        guided = guide.guided(run)
        smoother.push(model_input, guided.planes, name, guided.known)
        memories[name] = smoother._memory
    assert memories["plain"].confidence.max() == 1.0
    assert np.median(memories["seeded"].confidence) > 10.0


def traffic_truth(frames: int) -> list[np.ndarray]:
    import av

    with av.open(str(SAMPLES / "traffic_color.mp4")) as clip:
        return [frame.to_ndarray(format="rgb24") for frame, _ in zip(clip.decode(video=0), range(frames), strict=False)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def test_a_reference_of_another_view_of_the_same_kind_colours_by_what_things_are():
    from vidcolor import Colorizer

    still = cv2.cvtColor(cv2.imread(str(SAMPLES / "hints_still.jpg")), cv2.COLOR_BGR2RGB)  # automatic|hints|truth
    third = still.shape[1] // 3
    truth = np.ascontiguousarray(still[:, 2 * third + 2 : 3 * third - 2])
    other_view = np.ascontiguousarray(truth[:, ::-1][:, truth.shape[1] // 5 :])  # mirrored, cropped: no flow fits
    colorizer = Colorizer(backend="cpu", model="fast")
    reference = Reference(other_view)
    lightness = rgb_to_lab(torch.from_numpy(truth).permute(2, 0, 1)[None].float() / 255)[:, :1]
    assert reference.links(colorizer.model_input(lightness)) == [None]
    automatic = colorizer.colorize_image(truth)
    by_kind = colorizer.colorize_image(truth, reference=reference)
    # +1 dB: the automatic colour it beats is the colour gate's since issue 34, nearer the truth (21.9 dB, by kind 23.3)
    assert psnr(by_kind, truth) > psnr(automatic, truth) + 1.0
    noise = np.random.default_rng(3).integers(0, 255, truth.shape, dtype=np.uint8)  # like nothing in the picture
    assert np.array_equal(colorizer.colorize_image(truth, reference=Reference(noise)), automatic)


def test_a_reference_of_another_view_is_matched_once_a_shot_and_its_hints_end_at_the_cut():
    from vidcolor import Colorizer

    colorizer = Colorizer(backend="cpu", model="fast")
    calls = []

    def describe(lightness: torch.Tensor) -> torch.Tensor:
        calls.append(lightness.shape)
        return colorizer._describe(lightness)

    def model_input(rgb: np.ndarray) -> torch.Tensor:
        return colorizer.model_input(rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[:, :1])

    frames = traffic_truth(4)
    reference = Reference(np.ascontiguousarray(frames[0][:, ::-1][:, 60:]))
    shot = torch.cat([model_input(frame) for frame in frames])
    planes = reference.kind_planes(shot, [None] * 4, describe)
    assert len(calls) == 2  # the reference and the shot's first frame
    assert planes is not None and bool((planes[:, 2].flatten(1).amax(dim=1) > 0).all())  # held on every frame
    still = cv2.cvtColor(cv2.imread(str(SAMPLES / "hints_still.jpg")), cv2.COLOR_BGR2RGB)
    another_shot = cv2.resize(still[:, : still.shape[1] // 3], frames[0].shape[1::-1])
    assert reference.kind_planes(model_input(another_shot), [None], describe) is None  # nothing of its kind there
    assert len(calls) == 3  # matched again in the new shot


def test_where_colour_is_told_the_hints_confidence_says_how_far():
    from vidcolor import Colorizer

    grey = cv2.imread(str(STREET), cv2.IMREAD_GRAYSCALE)
    colorizer = Colorizer(backend="cpu", model="fast")
    model_input = colorizer.model_input(torch.from_numpy(grey).float()[None, None] / 2.55)
    height, width = model_input.shape[-2:]
    run = colorizer.run_network(model_input, hint_planes([Hint(0.5, 0.5, *hex_to_ab(BLUE))], height, width)[None])
    guided = colorizer.guided(run)
    planes, told = guided.planes, guided.told
    assert torch.equal(planes, colorizer.guide(run)) and told.shape == (1, height, width)
    assert told[0, height // 2, width // 2] > 0.5 > told[0, 2, 2]  # at the hint, and not in a far corner
    assert colorizer.guided(colorizer.run_network(model_input)).told is None  # no hints: nothing is told
