"""The preset catalog: built-ins from resources plus the user's own TOML files."""

from __future__ import annotations

from pathlib import Path

import tomli_w

from reelforge.domain.presets import (
    Preset,
    PresetError,
    load_builtin_presets,
    load_preset_file,
    load_user_presets,
    safe_file_name,
)


class PresetCatalog:
    def __init__(self, builtin_dir: Path, user_dir: Path):
        self._builtin_dir, self._user_dir = builtin_dir, user_dir
        self.builtin: dict[str, Preset] = {}
        self.user: dict[str, Preset] = {}
        self.errors: list[str] = []
        self.reload()

    def reload(self) -> None:
        self.builtin = load_builtin_presets(self._builtin_dir)
        self.user, self.errors = load_user_presets(self._user_dir, self.builtin)

    @property
    def all(self) -> dict[str, Preset]:
        return {**self.builtin, **self.user}

    def get(self, name: str) -> Preset:
        try:
            return self.all[name]
        except KeyError:
            known = ", ".join(sorted(self.all))
            raise PresetError(f"unknown preset '{name}' (known: {known})") from None

    def save(self, preset: Preset) -> Path:
        if preset.name in self.builtin:
            raise PresetError(f"'{preset.name}' is a built-in preset; save it under another name")
        self._user_dir.mkdir(parents=True, exist_ok=True)
        path = self._user_dir / f"{safe_file_name(preset.name)}.toml"
        path.write_text(tomli_w.dumps(preset.to_toml_dict()), encoding="utf-8")
        self.reload()
        return path

    def delete(self, name: str) -> None:
        if name in self.builtin:
            raise PresetError(f"'{name}' is a built-in preset and cannot be deleted")
        (self._user_dir / f"{safe_file_name(name)}.toml").unlink(missing_ok=True)
        self.reload()

    def import_file(self, path: Path) -> Preset:
        preset = load_preset_file(path)
        self.save(preset)
        return preset
