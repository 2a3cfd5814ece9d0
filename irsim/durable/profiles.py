"""Service profiles belong to models: the profiles registered under an irsim home (a folder,
``IRSIM_HOME/profiles``, one ``MODEL.json`` per model), so a job naming a model is simulated on
that model's profile. ``irsim profile add/list/show`` manage it; a file dropped into the folder
counts too (its ``model`` must be its file name). The bundled demo profile is always there,
under its model name, xgboost-demo."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator import DEMO_PROFILE_PATH, InputError, Profile, load_profile

FOLDER = "profiles"
#: A model name as CreateModel's ModelName pattern allows it (a file name on every system).
MODEL_NAME = re.compile(r"[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?")
MODEL_NAME_MAX = 63
HOW_TO_GET_ONE = ("calibrate one from measurements of the model (irsim calibrate, docs/calibration.md) and register "
                  "it with `irsim profile add PROFILE.json` for model {model} (it is kept under {folder}), or "
                  "pass irsim.client(profile=...) a profile whose model is {model}")


@dataclass(frozen=True)
class RegisteredProfile:
    """A profile the registry knows: the model it describes and where it is kept."""

    model: str
    path: Path
    bundled: bool = False


def demo_model() -> str:
    return load_profile("demo").model


class ProfileRegistry:
    """The profiles of one irsim home, by model name."""

    def __init__(self, home: Path) -> None:
        self.folder = Path(home) / FOLDER

    def add(self, source: Profile | dict[str, Any] | str | Path, model: str | None = None) -> RegisteredProfile:
        """Register a profile (validated) for ``model`` (default: the model the profile names;
        another name re-labels it, and its provenance keeps the name it came with). Replaces a
        profile registered for that model before."""
        profile = load_profile(source)
        name = model or profile.model
        check_model_name(name)
        document = profile.to_dict()
        if name != profile.model:
            document["provenance"] = {**document.get("provenance", {}), "registered_from_model": profile.model}
        document["model"] = name
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{name}.json"
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")  # whole or not at all
        with os.fdopen(handle, "w") as out:
            json.dump(document, out, indent=2)
        os.replace(temporary, target)
        return RegisteredProfile(model=name, path=target)

    def listed(self) -> list[RegisteredProfile]:
        """Every registered profile, by model name, the bundled demo included."""
        found = {path.stem: RegisteredProfile(model=path.stem, path=path)
                 for path in sorted(self.folder.glob("*.json"))} if self.folder.is_dir() else {}
        found.setdefault(demo_model(), RegisteredProfile(model=demo_model(), path=DEMO_PROFILE_PATH, bundled=True))
        return sorted(found.values(), key=lambda entry: entry.model)

    def get(self, model: str) -> Profile | None:
        """The profile registered for ``model`` (the demo's for xgboost-demo); None without one.
        A file whose ``model`` is not its name is an InputError naming the file."""
        if not MODEL_NAME.fullmatch(model):
            return None
        path = self.folder / f"{model}.json"
        if not path.is_file():
            return load_profile("demo") if model == demo_model() else None
        profile = load_profile(path)
        if profile.model != model:
            raise InputError("profile", f"{path} describes model {profile.model!r}, not {model!r}: its file name "
                                        "must be its model")
        return profile

    def how_to_get_one(self, model: str) -> str:
        return HOW_TO_GET_ONE.format(model=model, folder=self.folder)


def check_model_name(name: str) -> None:
    """A model name as SageMaker allows it: letters, digits and hyphens, at most 63 characters."""
    if not MODEL_NAME.fullmatch(name) or len(name) > MODEL_NAME_MAX:
        raise InputError("model", f"must be a SageMaker model name (letters, digits and hyphens, at most "
                                  f"{MODEL_NAME_MAX} characters, no hyphen first or last), got {name!r}")
