"""Rendering prompt lists into Hugging Face `imagefolder` datasets, resumably and in shards.

- `imagefolder`: `RenderJob`, `render_folder` and `render_job` (`promptopt render` as one workflow);
- `merge`: the shards' folders merged into one (`promptopt data merge`).
"""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "imagefolder": (
            "RenderJob",
            "render_folder",
            "render_job",
        ),
        "merge": ("merge_renders",),
    },
)
