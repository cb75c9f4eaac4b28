r"""Who-is-the-Spy with generated images: Vision-Zero's CLEVR game on scenes drawn with Pillow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from selfplay_gym.envs.text_games.spy import _SCENE_VOCAB, WhoIsTheSpyEnv

__all__ = ["WhoIsTheSpyImagesEnv", "draw_scene", "random_scene", "replace_objects", "COLORS"]

COLORS: dict[str, tuple[int, int, int]] = {
    "gray": (87, 87, 87),
    "red": (173, 35, 35),
    "blue": (42, 75, 215),
    "green": (29, 105, 20),
    "brown": (129, 74, 25),
    "purple": (129, 38, 192),
    "cyan": (41, 208, 208),
    "yellow": (255, 238, 51),
}
"""CLEVR's eight colours (names and RGB values of its rendering script)."""
SHAPES = _SCENE_VOCAB["shape"]
SIZES = _SCENE_VOCAB["size"]
POSITIONS = _SCENE_VOCAB["position"]
BACKGROUND = (200, 200, 196)


def random_scene(rng: np.random.Generator, num_objects: int) -> list[dict[str, str]]:
    """``num_objects`` objects in distinct cells of a 3x3 grid, each with a shape, colour and size."""
    cells = sorted(int(c) for c in rng.choice(len(POSITIONS), size=num_objects, replace=False))
    return [
        {
            "shape": SHAPES[int(rng.integers(len(SHAPES)))],
            "color": list(COLORS)[int(rng.integers(len(COLORS)))],
            "size": SIZES[int(rng.integers(len(SIZES)))],
            "position": POSITIONS[cell],
        }
        for cell in cells
    ]


def replace_objects(
    rng: np.random.Generator, scene: list[dict[str, str]], count: int = 2
) -> tuple[list[dict[str, str]], list[int]]:
    """A copy of ``scene`` with ``count`` objects replaced, in place, by objects of another kind.

    A replacement keeps the position and size and differs in shape, colour or both.
    Returns the new scene and the replaced indices.
    """
    changed = sorted(int(i) for i in rng.choice(len(scene), size=count, replace=False))
    kinds = [(s, c) for s in SHAPES for c in COLORS]
    out = [dict(o) for o in scene]
    for i in changed:
        options = [k for k in kinds if k != (scene[i]["shape"], scene[i]["color"])]
        shape, color = options[int(rng.integers(len(options)))]
        out[i]["shape"], out[i]["color"] = shape, color
    return out, changed


def draw_scene(scene: Sequence[dict[str, str]], width: int = 240, height: int = 180) -> np.ndarray:
    """The scene as a read-only ``uint8`` array ``(height, width, 3)``: flat shapes on a plain ground.

    Cubes are squares, spheres discs, cylinders a rectangle under an ellipse; large objects are
    twice the size of small ones. The same scene always gives the same pixels.
    """
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    cell_w, cell_h = width / 3, height / 3
    for obj in scene:
        index = POSITIONS.index(obj["position"])
        cx = (index % 3 + 0.5) * cell_w
        cy = (index // 3 + 0.5) * cell_h
        r = min(cell_w, cell_h) * (0.36 if obj["size"] == "large" else 0.18)
        fill = COLORS[obj["color"]]
        edge = tuple(max(0, v - 60) for v in fill)
        box = [round(cx - r), round(cy - r), round(cx + r), round(cy + r)]
        if obj["shape"] == "cube":
            draw.rectangle(box, fill=fill, outline=edge, width=2)
        elif obj["shape"] == "sphere":
            draw.ellipse(box, fill=fill, outline=edge, width=2)
        else:
            top = round(r * 0.35)
            draw.rectangle([box[0], box[1] + top, box[2], box[3]], fill=fill, outline=edge, width=2)
            draw.ellipse([box[0], box[1], box[2], box[1] + 2 * top], fill=edge)
    array = np.asarray(image, dtype=np.uint8).copy()
    array.flags.writeable = False
    return array


class WhoIsTheSpyImagesEnv(WhoIsTheSpyEnv):
    r"""Who-is-the-Spy with images: Vision-Zero's game on generated CLEVR-like scenes.

    ## Description

    Vision-Zero's (Wang et al., 2025) CLEVR game. Every player sees an image of a few coloured
    objects (cubes, spheres, cylinders; small or large) on a plain background, drawn with
    Pillow from a scene the env draws with its own generator: ``num_objects`` (5) objects, each
    in its own cell of a 3x3 grid, in CLEVR's eight colours. The civilians all see the same
    image; the spy sees it with **two objects replaced at the same positions** (a replacement
    keeps the size and changes the shape, the colour or both). The rules, phases, answer formats
    and rewards are those of ``selfplay/WhoIsTheSpy-v0`` (see its page): two clue rounds, then a
    secret vote, Vision-Zero's vote table and clue penalty.

    **How a vision-language policy gets the image.** Observations stay text (the prompt says an
    image is attached), so the text-env contract holds. The acting player's image is in
    ``info["images"]``: a list with one read-only ``uint8`` array of shape
    ``(image_height, image_width, 3)``, in every info of that player (``env.last()[4]`` in the
    AEC env; the ``info`` returned by ``reset``/``step`` of the Gymnasium view). Put it in the
    chat as an image part next to ``info["messages"]`` (for example
    ``{"type": "image"}`` + ``PIL.Image.fromarray(info["images"][0])`` for a Hugging Face
    processor). A player's info holds only its own image. With ``describe_scene=True`` the
    prompt also lists the objects in words, for text-only models.

    What is Vision-Zero's: the game, four players, one spy told its role, two replaced objects
    at the same positions, CLEVR's shapes and colours, the rewards. What is this env's: the
    scenes are generated and drawn flat (Vision-Zero renders CLEVR scenes with Blender), the
    3x3 grid of positions, the image size.

    | Agents | ``player_0 .. player_3`` |
    |---|---|
    | API | AEC; free text (no finite move set) |
    | Actions | text; the clue or vote is the last ``\boxed{}`` (else the last ``<answer>``) |
    | Observations | text prompt; the player's image in ``info["images"]`` |
    | Info extras | ``images``, ``game_role`` (own seat only), ``clue_round`` |

    ## Action Space

    As ``selfplay/WhoIsTheSpy-v0``: the clue, or a seat number or ``N/A``, in ``\boxed{}``.

    ## Observation Space

    ``UnicodeText``: rules, the role notice of the spy, every clue so far, what to do now. The
    image is not in the observation but in ``info["images"]``.

    ## Rewards

    As ``selfplay/WhoIsTheSpy-v0``: the vote table (civilian +1 / -0.5 / -1, spy -1 / +0.2 /
    +0.5, invalid vote -1), the clue penalty ``-0.6 * votes_received / (N - 1)`` or the
    zero-sum suspicion reward, the invalid-move policy for unusable clues.

    ## Starting State

    The spy seat, the scene and the two replaced objects drawn with the env's generator;
    ``player_0`` gives the first clue.

    ## Episode End

    Terminates after the last vote or on a forfeit.

    ## Arguments

    ``num_objects`` (5, 3 to 9), ``image_width`` (240), ``image_height`` (180),
    ``num_replaced`` (2), ``describe_scene`` (False), plus every argument of
    ``selfplay/WhoIsTheSpy-v0`` but ``pairs``.

    ## Version History

    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        **WhoIsTheSpyEnv.metadata,
        "name": "who_is_the_spy_images_v0",
    }
    subject: ClassVar[str] = "image"

    def __init__(
        self,
        *,
        num_objects: int = 5,
        image_width: int = 240,
        image_height: int = 180,
        num_replaced: int = 2,
        describe_scene: bool = False,
        **kwargs: Any,
    ):
        if (
            isinstance(num_objects, bool)
            or not isinstance(num_objects, int)
            or not 3 <= num_objects <= 9
        ):
            raise ValueError(f"expected num_objects in [3..9], got {num_objects!r}")
        if not isinstance(num_replaced, int) or not 1 <= num_replaced <= num_objects:
            raise ValueError(f"expected num_replaced in [1..{num_objects}], got {num_replaced!r}")
        for name, value in (("image_width", image_width), ("image_height", image_height)):
            if not isinstance(value, int) or not 48 <= value <= 2048:
                raise ValueError(f"expected {name} in [48..2048], got {value!r}")
        if "pairs" in kwargs:
            raise TypeError("the image game takes no word pairs")
        super().__init__(**kwargs)
        self.num_objects = num_objects
        self.image_width = image_width
        self.image_height = image_height
        self.num_replaced = num_replaced
        self.describe_scene = bool(describe_scene)
        self._scenes: tuple[list[dict[str, str]], list[dict[str, str]]] = ([], [])
        self._images: tuple[np.ndarray, np.ndarray] | None = None
        self._replaced: list[int] = []

    def _deal(self) -> None:
        civilian = random_scene(self.np_random, self.num_objects)
        spy, self._replaced = replace_objects(self.np_random, civilian, self.num_replaced)
        self._scenes = (civilian, spy)
        self._images = (
            draw_scene(civilian, self.image_width, self.image_height),
            draw_scene(spy, self.image_width, self.image_height),
        )

    def _is_spy(self, agent: str) -> bool:
        return self._seat(agent) == self._spy

    def scene(self, agent: str) -> list[dict[str, str]]:
        """The objects of the image ``agent`` sees (a copy)."""
        return [dict(o) for o in self._scenes[self._is_spy(agent)]]

    def image(self, agent: str) -> np.ndarray:
        """The image ``agent`` sees (read-only)."""
        assert self._images is not None, "call reset() first"
        return self._images[self._is_spy(agent)]

    def _secret_text(self, agent: str) -> str:
        text = (
            f"Your image is attached ({self.image_width}x{self.image_height} pixels): "
            f"{self.num_objects} objects (cubes, spheres, cylinders; small or large; in 8 "
            "colours) in a 3x3 grid of positions (top/middle/bottom, left/center/right)."
        )
        if self.describe_scene:
            listed = "; ".join(
                f"{o['size']} {o['color']} {o['shape']} at the {o['position']}"
                for o in self._scenes[self._is_spy(agent)]
            )
            text += f" In words: {listed}."
        return text

    def _secret_summary(self) -> str:
        changed = ", ".join(
            f"the {self._scenes[0][i]['color']} {self._scenes[0][i]['shape']} at the "
            f"{self._scenes[0][i]['position']} was a {self._scenes[1][i]['color']} "
            f"{self._scenes[1][i]['shape']}"
            for i in self._replaced
        )
        return f"In the spy's image {changed}."

    def _clue_problem(self, agent: str, clue: str) -> str | None:
        return None

    def _view_secret(self, agent: str) -> dict[str, Any]:
        return {"scene": self.scene(agent)}

    def _extra_info(self, agent: str) -> dict[str, Any]:
        info = super()._extra_info(agent)
        info["images"] = [self.image(agent)] if self._images is not None else []
        return info
