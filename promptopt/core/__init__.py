"""The ground floor: what every other layer uses and that imports nothing else of promptopt's.

- `errors`: `InputError`, the base class of every error a user can fix (the CLI prints it as one line, exit 2);
- `atomic`: atomic file and folder writes (a reader or a crash sees the old content or the new, never half);
- `paths`: the cache dir and a run folder's layout; `tomlio`: TOML configs to frozen dataclasses and back;
- `device`: what a `--device` value means on this machine;
- `images`: image files, loading (`open_rgb`) and the one resize path; `image_identity`: a set's pixel hash;
  `grids`: images pasted into a grid;
- `progress`: how a workflow reports progress without printing; `interrupt`: Ctrl-C as a stop request;
- `provenance`: package versions and platform; `libraries`: the libraries' own progress bars and logs silenced.
"""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "atomic": (
            "staged_dir",
            "write_bytes",
            "write_json",
            "write_text",
        ),
        "device": (
            "DeviceError",
            "resolve_device",
        ),
        "errors": ("InputError",),
        "grids": (
            "grid_png",
            "save_grid",
        ),
        "image_identity": ("images_hash",),
        "images": (
            "UnreadableImageError",
            "image_files",
            "load_images",
            "open_rgb",
        ),
        "interrupt": ("StopFlag",),
        "libraries": ("quiet_libraries",),
        "paths": (
            "RunPaths",
            "cache_dir",
        ),
        "progress": (
            "Phase",
            "Progress",
            "no_phase",
        ),
        "provenance": ("environment",),
    },
)
