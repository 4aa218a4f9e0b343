"""Tests of the procedural clips and their evaluation (tools/demo_data/clips.py)."""

import collections
import json
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clips  # noqa: E402
import make_dataset  # noqa: E402

FRAMES, HEIGHT, WIDTH = 9, 96, 128


class ClipsTest(unittest.TestCase):

    def test_a_seed_decides_everything(self):
        video, caption, scene = clips.make_clip(7, FRAMES, HEIGHT, WIDTH)
        again, caption_again, scene_again = clips.make_clip(7, FRAMES, HEIGHT, WIDTH)
        self.assertEqual(video.shape, (FRAMES, HEIGHT, WIDTH, 3))
        self.assertEqual(video.dtype, np.uint8)
        self.assertTrue(np.array_equal(video, again))
        self.assertEqual((caption, scene), (caption_again, scene_again))
        other, other_caption, _ = clips.make_clip(8, FRAMES, HEIGHT, WIDTH)
        self.assertFalse(np.array_equal(video, other) and caption == other_caption)

    def test_captions_say_what_the_scene_is(self):
        for seed in range(50):
            scene = clips.make_scene(seed)
            caption = scene.caption()
            main = f"{scene.main.color} {scene.main.shape} moves {scene.direction} {scene.speed}"
            self.assertIn(main, caption)
            self.assertIn(f"{scene.background} background", caption)
            self.assertEqual(scene.stripes is not None, "stripes scrolling" in caption)
            self.assertEqual(scene.entering is not None, "enters from the" in caption)
            self.assertNotRegex(" " + caption, r" a [aeiou]")

    def test_scenes_vary_in_every_attribute(self):
        seen = collections.defaultdict(set)
        for seed in range(300):
            scene = clips.make_scene(seed)
            seen["color"].add(scene.main.color)
            seen["shape"].add(scene.main.shape)
            seen["direction"].add(scene.direction)
            seen["speed"].add(scene.speed)
            seen["background"].add(scene.background)
            seen["side"].add(scene.side)
            seen["stripes"].add(scene.stripes)
        self.assertEqual(seen["color"], set(clips.OBJECT_COLORS))
        self.assertEqual(seen["shape"], set(clips.SHAPES))
        self.assertEqual(seen["direction"], set(clips.DIRECTIONS))
        self.assertEqual(seen["speed"], set(clips.SPEEDS))
        self.assertEqual(seen["background"], set(clips.BACKGROUND_COLORS))
        self.assertEqual(seen["side"], set(clips.SIDES) | {None})
        self.assertEqual(seen["stripes"], set(clips.DIRECTIONS) | {None})

    def test_the_main_object_stays_in_the_frame(self):
        for seed in range(200):
            main = clips.make_scene(seed).main
            for point in (main.start, main.end):
                for coordinate in point:
                    self.assertGreaterEqual(coordinate, 0.1)
                    self.assertLessEqual(coordinate, 0.9)

    def test_measure_recovers_every_clips_main_object(self):
        for seed in range(24):
            video, caption, scene = clips.make_clip(seed, FRAMES, HEIGHT, WIDTH)
            self.assertEqual(clips.adherence(video, scene),
                             {"color": True, "direction": True}, caption)

    def test_adherence_fails_for_videos_that_do_not_match(self):
        for seed in range(12):
            video, caption, scene = clips.make_clip(seed, FRAMES, HEIGHT, WIDTH)
            # Played backwards, the object moves the other way.
            self.assertEqual(clips.adherence(video[::-1], scene),
                             {"color": True, "direction": False}, caption)
            # The background alone shows no object.
            background = np.broadcast_to(
                np.array(clips.BACKGROUND_COLORS[scene.background], np.uint8), video.shape)
            self.assertEqual(clips.adherence(background, scene),
                             {"color": False, "direction": False})


class MakeDatasetTest(unittest.TestCase):

    def test_writes_the_clips_of_its_seeds_with_their_captions(self):
        with tempfile.TemporaryDirectory() as out:
            self.assertEqual(make_dataset.main(["--out", out, "--count", "3", "--first_seed", "5",
                                                "--frames", "5", "--height", "32",
                                                "--width", "48"]), 0)
            videos = np.load(os.path.join(out, "clips.npy"), mmap_mode="r")
            self.assertEqual(videos.shape, (3, 5, 32, 48, 3))
            with open(os.path.join(out, "captions.jsonl")) as lines:
                records = [json.loads(line) for line in lines]
            self.assertEqual([r["seed"] for r in records], [5, 6, 7])
            for i, record in enumerate(records):
                video, caption, _ = clips.make_clip(5 + i, 5, 32, 48)
                self.assertTrue(np.array_equal(videos[i], video))
                self.assertEqual(record["caption"], caption)
                self.assertEqual(record["scene"]["direction"], clips.make_scene(5 + i).direction)


if __name__ == "__main__":
    unittest.main()
