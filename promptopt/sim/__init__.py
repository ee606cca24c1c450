"""GI-sim: procedural caricatures of GI endoscopy images with exact ground-truth attributes.

A simulator, not medical data. Image i of a run depends only on (seed, i):
`sample_scene` draws what is in the picture, `render_scene` paints it and derives the labels from
what was painted, `choose_prompts` picks true challenge prompts, `write_dataset` writes the challenge layout.
"""

from promptopt.sim.config import SimConfig
from promptopt.sim.labels import Labels
from promptopt.sim.sampling import sample_scene
from promptopt.sim.scene import render_scene, simulate

__all__ = ["Labels", "SimConfig", "render_scene", "sample_scene", "simulate"]
