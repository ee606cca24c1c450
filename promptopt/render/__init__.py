"""Rendering prompt lists into Hugging Face `imagefolder` datasets, resumably and in shards.

- `imagefolder`: `RenderJob`, `render_folder` and `render_job` (`promptopt render` as one workflow);
- `merge`: the shards' folders merged into one (`promptopt data merge`).
"""

from promptopt.render.imagefolder import RenderJob, render_folder, render_job
from promptopt.render.merge import merge_renders

__all__ = ["RenderJob", "merge_renders", "render_folder", "render_job"]
