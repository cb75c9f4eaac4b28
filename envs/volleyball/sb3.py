"""Stable-Baselines3's ``VecEnv`` interface over a :class:`~.env.VolleyballVectorEnv`.

SB3 steps its own vector-env type: ``step_async``/``step_wait``, one info dict per row, the last
observation of an episode under ``info["terminal_observation"]`` and a time-limit flag under
``info["TimeLimit.truncated"]`` (PPO bootstraps the value of truncated episodes from it). The
volleyball vector env already resets finished courts in the same step (Gymnasium's
``SAME_STEP`` mode), so the adapter only reshapes its outputs; the courts keep being stepped
together by MuJoCo's batch, which is what makes the env fast.

Each finished row's info also carries ``episode`` (``r``, ``l``, ``t``: what SB3's ``Monitor``
would write, so ``model.ep_info_buffer`` fills) and the task's end-of-episode entries (for
example ``targets_reached``, ``hits``, ``winner``) as plain numbers.

Needs ``stable-baselines3`` (``pip install 'selfplay-gym[sb3,drones]'``).

Example:
    >>> from selfplay_gym.envs.volleyball import VolleyballVectorEnv
    >>> from selfplay_gym.envs.volleyball.sb3 import SB3VolleyballVecEnv
    >>> venv = SB3VolleyballVecEnv(VolleyballVectorEnv("back_and_forth", num_courts=2))
    >>> venv.seed(0)
    [0, 1]
    >>> venv.reset().shape
    (2, 26)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from selfplay_gym.envs.volleyball.env import VolleyballVectorEnv

__all__ = ["SB3VolleyballVecEnv"]


class SB3VolleyballVecEnv(VecEnv):
    """A :class:`~.env.VolleyballVectorEnv` as an SB3 ``VecEnv`` (one row per learner seat).

    Args:
        env: The volleyball vector env; its rows become SB3's envs.
    """

    def __init__(self, env: VolleyballVectorEnv):
        self.env = env
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: np.ndarray | None = None
        self._start = time.perf_counter()

    @property
    def task(self):
        """The vectorized task under the env (its courts, rules and state)."""
        return self.env.task

    def reset(self) -> np.ndarray:
        """Reset every court; the first reset after :meth:`seed` uses that seed."""
        # SB3 hands seeds out per row (seed + row); the courts share one generator, seeded once.
        seed = self._seeds[0] if self._seeds else None
        obs, _ = self.env.reset(seed=seed)
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Hold the actions of every row for :meth:`step_wait`."""
        self._actions = np.asarray(actions, dtype=float)

    def step_wait(self):
        """Step every court; returns observations, rewards, dones and one info dict per row."""
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async(actions)")
        obs, rewards, terminated, truncated, infos = self.env.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        rows: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            now = round(time.perf_counter() - self._start, 6)
            extra = {
                k: v
                for k, v in infos.items()
                if not k.startswith("_") and k not in ("final_obs", "episode")
            }
            for i in np.flatnonzero(dones):
                info = rows[i]
                info["terminal_observation"] = infos["final_obs"][i]
                info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                info["episode"] = {
                    "r": float(infos["episode"]["r"][i]),
                    "l": int(infos["episode"]["l"][i]),
                    "t": now,
                }
                for key, value in extra.items():
                    v = value[i]
                    info[key] = v.item() if isinstance(v, np.generic) else v
        return obs, rewards.astype(np.float32), dones, rows

    def close(self) -> None:
        """Close the vector env."""
        self.env.close()

    # ---- the per-env calls of SB3's interface: one env stands behind every row ---------------
    def _indices(self, indices: None | int | Sequence[int]) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        """The vector env's attribute, once per requested row."""
        return [getattr(self.env, attr_name) for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        """Set the vector env's attribute (shared by every row)."""
        setattr(self.env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args, indices=None, **method_kwargs
    ) -> list[Any]:
        """Call the vector env's method once; its result repeated per requested row."""
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices=None) -> list[bool]:
        """No Gymnasium wrappers stand between SB3 and the courts."""
        return [False for _ in self._indices(indices)]
