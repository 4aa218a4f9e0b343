"""Tests of the acceleration comparison (bench/compare_accelerations.py): its metrics against
direct computations, and its table, JSON and plot from a small synthetic benchmark run."""

import contextlib
import io
import json
import math
import os
import struct
import sys
import tempfile
import unittest
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_accelerations as compare  # noqa: E402

clips = compare.clips
FRAMES, HEIGHT, WIDTH = 9, 16, 16


def windowed_ssim(video: np.ndarray, reference: np.ndarray) -> float:
    """SSIM as skimage defines it, one 7x7 window inside the frame at a time, in float64."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    frames, height, width, channels = video.shape
    per_channel = []
    for f in range(frames):
        for c in range(channels):
            values = []
            for i in range(height - 6):
                for j in range(width - 6):
                    x = video[f, i:i + 7, j:j + 7, c].astype(np.float64)
                    y = reference[f, i:i + 7, j:j + 7, c].astype(np.float64)
                    mx, my = x.mean(), y.mean()
                    vx, vy = x.var(ddof=1), y.var(ddof=1)
                    vxy = ((x - mx) * (y - my)).sum() / (x.size - 1)
                    values.append((2 * mx * my + c1) * (2 * vxy + c2)
                                  / ((mx * mx + my * my + c1) * (vx + vy + c2)))
            per_channel.append(np.mean(values))
    return float(np.mean(per_channel))


def decode_png(data: bytes) -> np.ndarray:
    """The RGB image of a PNG as encode_png writes it (8-bit truecolour, filter 0), checking the
    signature, every chunk's CRC and the chunk order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    position, kinds, idat, header = 8, [], b"", None
    while position < len(data):
        length, = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        crc, = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind}"
        kinds.append(kind)
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds, kinds
    width, height, depth, color_type, _, _, interlace = header
    assert (depth, color_type, interlace) == (8, 2, 0), header
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + 3 * width)
    assert not rows[:, 0].any(), "only filter type 0 is expected"
    return rows[:, 1:].reshape(height, width, 3)


class MetricsTest(unittest.TestCase):

    def setUp(self):
        self.seed = int(np.random.SeedSequence().entropy % 2 ** 32)
        self.rng = np.random.default_rng(self.seed)

    def random_video(self, shape=(2, 11, 13, 3)) -> np.ndarray:
        return self.rng.integers(0, 256, shape, dtype=np.uint8)

    def noisy(self, video: np.ndarray, amplitude: int) -> np.ndarray:
        noise = self.rng.integers(-amplitude, amplitude + 1, video.shape)
        return np.clip(video.astype(np.int64) + noise, 0, 255).astype(np.uint8)

    def test_identical_videos_have_infinite_psnr_and_unit_ssim(self):
        video = self.random_video()
        self.assertEqual(compare.psnr(video, video.copy()), math.inf)
        self.assertAlmostEqual(compare.video_ssim(video, video.copy()), 1.0, places=12)

    def test_psnr_of_known_mean_squared_errors(self):
        reference = np.full((3, 8, 8, 3), 100, np.uint8)
        self.assertAlmostEqual(compare.psnr(reference + 5, reference),
                               10 * math.log10(255 ** 2 / 25), places=12)
        # Half the values off by 10: MSE 50.
        video = reference.copy()
        video[:, :4] += 10
        self.assertAlmostEqual(compare.psnr(video, reference), 10 * math.log10(255 ** 2 / 50),
                               places=12)

    def test_ssim_matches_a_window_by_window_reference(self):
        for reference in (self.random_video(), self.random_video((1, 7, 9, 3))):
            for video in (self.random_video(reference.shape), self.noisy(reference, 20)):
                with self.subTest(shape=reference.shape, seed=self.seed):
                    self.assertAlmostEqual(compare.video_ssim(video, reference),
                                           windowed_ssim(video, reference), places=10)

    def test_ssim_rejects_frames_smaller_than_the_window(self):
        video = self.random_video((1, 6, 10, 3))
        with self.assertRaises(ValueError):
            compare.video_ssim(video, video)

    def test_png_round_trips_an_image(self):
        image = self.random_video((5, 7, 3))
        self.assertTrue(np.array_equal(decode_png(compare.encode_png(image)), image))


def method(name, family, spec, latency, flops, memory_gib):
    return {"name": name, "family": family, "spec": spec,
            "dir": "".join(c if c.isalnum() else "_" for c in name),
            "latency_s": latency, "denoise_s": [0.8 * t for t in latency],
            "peak_memory_bytes": int(memory_gib * 2 ** 30), "flops": flops,
            "dense_flops": 8e12}


class ReportTest(unittest.TestCase):
    """A run of two prompts, three methods: dense, ASTRAEA (noisy) and PAB (noisier, and
    identical to dense on the first prompt)."""

    SCENE_SEEDS = (11, 12)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = os.path.join(self.tmp.name, "run")
        rng = np.random.default_rng(0)
        self.methods = [
            method("pab(self=2,cross=6)", "pab", "pab(self=2,cross=6)", [6.0, 6.5], 5e12, 1.5),
            method("dense", "dense", "dense", [10.0, 11.0], 8e12, 1.0),
            method("astraea-0.5", "astraea", "astraea(budget=0.5)", [5.0, 5.5], 4e12, 1.25),
        ]
        self.videos = {}
        for index, seed in enumerate(self.SCENE_SEEDS):
            dense = clips.render(clips.make_scene(seed), FRAMES, HEIGHT, WIDTH)
            noise = lambda amplitude: rng.integers(-amplitude, amplitude + 1, dense.shape)
            noisy = lambda amplitude: np.clip(dense + noise(amplitude), 0, 255).astype(np.uint8)
            self.videos[index] = {"dense": dense, "astraea-0.5": noisy(3),
                                  "pab(self=2,cross=6)": dense if index == 0 else noisy(30)}
        self.write_run([{"index": i, "prompt": clips.make_scene(seed).caption(), "seed": i,
                         "scene_seed": seed} for i, seed in enumerate(self.SCENE_SEEDS)])

    def write_run(self, prompts, frames_saved=True):
        results = {"device": "Test GPU 80GB", "date": "2026-12-08", "frames_saved": frames_saved,
                   "command": "bench/acceleration_benchmark --prompts=2", "model": "demo",
                   "settings": {"height": HEIGHT, "width": WIDTH, "frames": FRAMES, "steps": 4,
                                "guidance_scale": 5.0, "dtype": "bf16"},
                   "prompts": prompts, "methods": self.methods}
        for m in self.methods:
            os.makedirs(os.path.join(self.dir, m["dir"]), exist_ok=True)
            for index, videos in self.videos.items():
                videos[m["name"]].tofile(os.path.join(self.dir, m["dir"], f"{index}.raw"))
        with open(os.path.join(self.dir, "results.json"), "w") as f:
            json.dump(results, f)

    def run_comparison(self):
        prefix = os.path.join(self.tmp.name, "out", "comparison")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(compare.main(["--results", self.dir, "--out", prefix]), 0)
        with open(prefix + ".json") as f:
            report = json.load(f)
        with open(prefix + ".md") as f:
            table = f.read()
        with open(prefix + ".png", "rb") as f:
            png = f.read()
        return report, table, png

    def test_json_has_every_number(self):
        report, _, _ = self.run_comparison()
        self.assertEqual(report["device"], "Test GPU 80GB")
        methods = {m["name"]: m for m in report["methods"]}
        self.assertEqual([m["name"] for m in report["methods"]],
                         ["dense", "astraea-0.5", "pab(self=2,cross=6)"])
        dense = methods["dense"]
        self.assertIsNone(dense["psnr_db"])
        self.assertEqual(dense["identical_videos"], 2)
        self.assertAlmostEqual(dense["ssim"], 1.0, places=12)
        self.assertEqual((dense["latency_speedup"], dense["flops_speedup"]), (1.0, 1.0))
        for name, m in methods.items():
            videos = [(self.videos[i][name], self.videos[i]["dense"]) for i in self.videos]
            psnrs = [compare.psnr(*pair) for pair in videos]
            finite = [p for p in psnrs if math.isfinite(p)]
            with self.subTest(method=name):
                self.assertEqual([row["psnr_db"] for row in m["per_prompt"]],
                                 [p if math.isfinite(p) else None for p in psnrs])
                if finite:
                    self.assertAlmostEqual(m["psnr_db"], np.mean(finite), places=12)
                self.assertAlmostEqual(
                    m["ssim"], np.mean([windowed_ssim(*pair) for pair in videos]), places=10)
                verdicts = [clips.adherence(self.videos[i][name], clips.make_scene(seed))
                            for i, seed in enumerate(self.SCENE_SEEDS)]
                self.assertEqual(m["adherence"]["prompts"], 2)
                for key in ("color", "direction"):
                    self.assertAlmostEqual(m["adherence"][key],
                                           np.mean([v[key] for v in verdicts]))
        pab, astraea = methods["pab(self=2,cross=6)"], methods["astraea-0.5"]
        self.assertEqual(pab["identical_videos"], 1)
        self.assertEqual(pab["per_prompt"][0]["psnr_db"], None)
        self.assertGreater(astraea["psnr_db"], pab["psnr_db"])
        self.assertAlmostEqual(astraea["latency_speedup"], 10.5 / 5.25)
        self.assertAlmostEqual(astraea["denoise_speedup"], 10.5 / 5.25)
        self.assertAlmostEqual(astraea["flops_speedup"], 2.0)
        self.assertAlmostEqual(astraea["tflops"], 4.0)
        self.assertAlmostEqual(astraea["peak_memory_gib"], 1.25)
        self.assertEqual(astraea["per_prompt"][1]["latency_s"], 5.5)

    def test_markdown_table_has_the_run_and_a_row_per_method(self):
        _, table, _ = self.run_comparison()
        self.assertIn("bench/acceleration_benchmark --prompts=2", table)
        self.assertIn("Device: Test GPU 80GB.", table)
        self.assertIn("16×16, 9 frames, 4 steps", table)
        header = next(line for line in table.splitlines() if line.startswith("| method"))
        self.assertIn("colour (%)", header)
        rows = [line for line in table.splitlines() if line.startswith("| ")][2:]
        self.assertEqual([row.split(" | ")[0] for row in rows],
                         ["| dense", "| astraea-0.5", "| pab(self=2,cross=6)"])
        dense, astraea, pab = (row.split(" | ") for row in rows)
        self.assertEqual(dense[3:5], ["∞", "1.0000"])
        self.assertRegex(pab[3], r"^\d+\.\d\d \(\+1 ∞\)$")
        self.assertEqual(astraea[-5:], ["4.0", "2.00×", "5.25", "2.00×", "1.25 |"])
        self.assertEqual(len(set(len(row.split(" | ")) for row in rows)), 1)

    def test_adherence_is_left_out_without_scenes(self):
        self.write_run([{"index": i, "prompt": "p", "seed": i, "scene_seed": None}
                        for i in range(2)])
        report, table, _ = self.run_comparison()
        self.assertNotIn("colour", table)
        self.assertTrue(all(m["adherence"] is None for m in report["methods"]))

    def test_a_run_without_frames_reports_speed_only(self):
        self.write_run([{"index": i, "prompt": "p", "seed": i, "scene_seed": 11 + i}
                        for i in range(2)], frames_saved=False)
        prefix = os.path.join(self.tmp.name, "speed", "comparison")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(compare.main(["--results", self.dir, "--out", prefix]), 0)
        self.assertFalse(os.path.exists(prefix + ".png"))
        with open(prefix + ".md") as f:
            table = f.read()
        self.assertNotIn("colour", table)
        rows = [line for line in table.splitlines() if line.startswith("| ")][2:]
        astraea = next(row for row in rows if row.startswith("| astraea")).split(" | ")
        self.assertEqual(astraea[3:5], ["—", "—"])
        self.assertEqual(astraea[-5:], ["4.0", "2.00×", "5.25", "2.00×", "1.25 |"])

    def test_schedules_are_shown_by_their_budget(self):
        self.assertEqual(compare._spec_cell("0.5,0.5,0.5"), "θ = 0.5 at all 3 steps")
        self.assertEqual(compare._spec_cell("1.0,0.0,1.0,1.0"),
                         "schedule, mean θ = 0.75 over 4 steps")
        self.assertEqual(compare._spec_cell("pab(self=2,cross=6)"), "`pab(self=2,cross=6)`")

    def test_plot_is_a_png_with_a_line_per_family(self):
        _, _, png = self.run_comparison()
        image = decode_png(png)
        self.assertEqual(image.shape, (compare.PLOT_HEIGHT, compare.PLOT_WIDTH, 3))
        colors = {tuple(pixel) for pixel in image.reshape(-1, 3)}
        self.assertIn(compare.ASTRAEA_COLOR, colors)
        self.assertIn(compare.COLORS[0], colors)  # PAB, the first baseline
        self.assertIn(compare.BLACK, colors)

    def test_a_run_without_dense_is_rejected(self):
        self.methods = [m for m in self.methods if m["name"] != "dense"]
        for videos in self.videos.values():
            del videos["dense"]
        self.write_run([{"index": 0, "prompt": "p", "seed": 0, "scene_seed": None}])
        with self.assertRaisesRegex(ValueError, "dense"):
            compare.load_results(self.dir)

    def test_a_video_of_the_wrong_size_is_rejected(self):
        astraea = next(m for m in self.methods if m["name"] == "astraea-0.5")
        path = os.path.join(self.dir, astraea["dir"], "1.raw")
        with open(path, "ab") as f:
            f.write(b"\0")
        with self.assertRaisesRegex(ValueError, "1.raw"), \
                contextlib.redirect_stderr(io.StringIO()):
            compare.main(["--results", self.dir, "--out", os.path.join(self.tmp.name, "x")])


if __name__ == "__main__":
    unittest.main()
