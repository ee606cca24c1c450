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

from promptopt.core.atomic import staged_dir, write_bytes, write_json, write_text
from promptopt.core.device import DeviceError, resolve_device
from promptopt.core.errors import InputError
from promptopt.core.grids import grid_png, save_grid
from promptopt.core.image_identity import images_hash
from promptopt.core.images import UnreadableImageError, image_files, load_images, open_rgb
from promptopt.core.interrupt import StopFlag
from promptopt.core.libraries import quiet_libraries
from promptopt.core.paths import RunPaths, cache_dir
from promptopt.core.progress import Phase, Progress, no_phase
from promptopt.core.provenance import environment

__all__ = [
    "DeviceError",
    "InputError",
    "Phase",
    "Progress",
    "RunPaths",
    "StopFlag",
    "UnreadableImageError",
    "cache_dir",
    "environment",
    "grid_png",
    "image_files",
    "images_hash",
    "load_images",
    "no_phase",
    "open_rgb",
    "quiet_libraries",
    "resolve_device",
    "save_grid",
    "staged_dir",
    "write_bytes",
    "write_json",
    "write_text",
]
