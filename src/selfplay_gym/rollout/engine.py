"""Batched self-play rollouts over many envs at once.

:class:`RolloutEngine` keeps ``num_envs`` games in flight. At every tick it advances each game
through the moves of scripted players (bots, plain callables) until an agent played by a
batched policy must act, then sends the prompts of *all* games whose acting agent maps to the
same policy as one batch -- whatever turn each game is at. Games never wait for each other: a
finished game is replaced by a new one in the same tick, so the batch stays full. (SPIRAL's loop
requires every env of a batch to be at the same player's turn; this one does not.)

Policies are mapped to agents per episode, by agent name, by role, or by a function; a policy
can be a language-model policy (batched, with token ids and log-probs recorded), any object with
a batched ``act(observations, infos)``, a :class:`~selfplay_gym.core.bots.Bot`, a callable
``(observation, info) -> action``, a bot name such as ``"random"``, or a league (any object with
``sample(rng, env_id=...) -> (name, opponent)`` and ``record(name, reward=...)``, such as
:class:`selfplay_gym.league.League`), which is sampled once per episode per seat and told the
result: the mean return of the seats it did not play.

Episodes come in groups of ``group_size`` that share an env seed (GRPO-style groups). Each
finished episode is appended to a JSONL trajectory file (see
:mod:`selfplay_gym.rollout.records`).
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from selfplay_gym.core.arena import bot_seed
from selfplay_gym.core.bots import Bot
from selfplay_gym.registry import make, resolve_opponent
from selfplay_gym.rollout.records import SCHEMA_VERSION, TrajectoryWriter

__all__ = ["PolicyMapping", "RolloutEngine", "RolloutStats"]

PolicyMapping = Mapping[str, str] | Callable[[str, str, int], str] | None
"""Which policy plays an agent: by agent name or role, or a function (agent, role, episode_id)."""


@dataclass
class RolloutStats:
    """What a :meth:`RolloutEngine.run` did, and where its time went."""

    episodes: int = 0
    """Episodes finished."""
    steps: int = 0
    """Actions taken (bots included)."""
    model_steps: int = 0
    """Actions produced by batched policies."""
    tokens: int = 0
    """Tokens generated (where the backend reports them)."""
    failed_generations: int = 0
    """Generations that came back as errors (recorded, the env's invalid-move policy applied)."""
    invalid_actions: int = 0
    """Actions the envs flagged invalid."""
    policy_calls: dict[str, int] = field(default_factory=dict)
    """Batched calls per policy name."""
    batch_sizes: dict[str, list[int]] = field(default_factory=dict)
    """Size of every batched call, per policy name."""
    policy_seconds: float = 0.0
    """Wall time inside batched policy calls (generation)."""
    wall_seconds: float = 0.0
    """Wall time of the whole run."""

    @property
    def overhead_share(self) -> float:
        """Share of wall time spent outside the batched policy calls."""
        if self.wall_seconds <= 0:
            return 0.0
        return max(0.0, 1.0 - self.policy_seconds / self.wall_seconds)

    @property
    def episodes_per_second(self) -> float:
        """Episodes finished per wall-clock second."""
        return self.episodes / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def tokens_per_second(self) -> float:
        """Generated tokens per wall-clock second."""
        return self.tokens / self.wall_seconds if self.wall_seconds > 0 else 0.0


class _Player:
    """A policy as the engine calls it: batched (``generate`` / ``act``) or one move at a time."""

    __slots__ = ("name", "obj", "kind")

    def __init__(self, name: str, obj: Any):
        self.name = name
        self.obj = obj
        if isinstance(obj, Bot):
            self.kind = "bot"
        elif getattr(obj, "mode", "generate") == "generate" and callable(
            getattr(obj, "generate", None)
        ):
            self.kind = "generate"  # an LLMPolicy: completions with token ids and log-probs
        elif callable(getattr(obj, "act", None)):
            self.kind = "act"  # batched act(observations, infos) -> actions
        elif callable(obj):
            self.kind = "callable"
        else:
            raise TypeError(
                f"policy {name!r}: expected an LLMPolicy, a batched policy with act(), a Bot or "
                f"a callable (observation, info) -> action, got {type(obj).__name__}"
            )

    @property
    def batched(self) -> bool:
        return self.kind in ("generate", "act")


def _is_league(obj: Any) -> bool:
    return callable(getattr(obj, "sample", None)) and callable(getattr(obj, "record", None))


def _resolve(env_id: str, obj: Any) -> Any:
    """``obj`` as a policy: a batched ``act()`` object as is, anything else as an opponent."""
    if not isinstance(obj, Bot) and callable(getattr(obj, "act", None)):
        return obj  # need not be callable one move at a time (resolve_opponent would refuse it)
    return resolve_opponent(env_id, obj)


class _Episode:
    """One game in flight."""

    __slots__ = (
        "env",
        "episode_id",
        "group_id",
        "env_seed",
        "players",
        "league_seats",
        "records",
        "last_record",
        "pre_reward",
        "errors",
        "invalid",
        "truncated",
    )

    def __init__(self, env: Any, episode_id: int, group_id: int, env_seed: int):
        self.env = env
        self.episode_id = episode_id
        self.group_id = group_id
        self.env_seed = env_seed
        self.players: dict[str, _Player] = {}
        self.league_seats: dict[str, tuple[Any, str]] = {}
        self.records: list[dict[str, Any]] = []
        self.last_record: dict[str, dict[str, Any]] = {}
        self.pre_reward: dict[str, float] = {}
        self.errors = 0
        self.invalid: dict[str, int] = {}
        self.truncated = False


class RolloutEngine:
    """Play many episodes of one env id with batched policies, and record them.

    Args:
        env_id: A registered AEC id, e.g. ``"selfplay/TicTacToe-v0"``.
        policies: Policy name -> policy (see the module docstring for what a policy can be).
            A bare object is taken as ``{obj.name: obj}`` (or ``{"policy": obj}``).
        num_envs: Games in flight at once (the largest batch a policy can get).
        mapping: Which policy plays each agent: ``None`` (one policy plays every seat; an error
            if there are several), a mapping keyed by agent name (``"player_1"``) or by role
            (``"player"``) -- agent names take precedence -- or a function
            ``(agent, role, episode_id) -> policy name``.
        group_size: Consecutive episodes sharing an env seed; episode ``e`` is in group
            ``e // group_size`` and is reset with seed ``seed + group``.
        seed: Base seed of envs, bots and league draws.
        env_kwargs: Passed to the env constructor (e.g. ``{"invalid_move": "retry"}``).
        trajectory_path: JSONL file the records are appended to; ``None`` keeps them in
            memory only (:attr:`records` of the last run).
        keep_records: Also keep the records of the last run in :attr:`records`.
        progress: Show a progress bar with episodes/s and tokens/s.
    """

    def __init__(
        self,
        env_id: str,
        policies: Mapping[str, Any] | Any,
        *,
        num_envs: int = 8,
        mapping: PolicyMapping = None,
        group_size: int = 1,
        seed: int = 0,
        env_kwargs: Mapping[str, Any] | None = None,
        trajectory_path: str | Path | None = None,
        keep_records: bool = True,
        progress: bool = False,
    ):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"expected num_envs to be an int >= 1, got {num_envs!r}")
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"expected group_size to be an int >= 1, got {group_size!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"expected seed to be an int >= 0, got {seed!r}")
        if not isinstance(policies, Mapping):
            label = getattr(policies, "name", None)
            policies = {label if isinstance(label, str) and label else "policy": policies}
        if not policies:
            raise ValueError("expected at least one policy")
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.num_envs = num_envs
        self.group_size = group_size
        self.seed = seed
        self.progress = progress
        self.keep_records = keep_records
        self.trajectory_path = Path(trajectory_path) if trajectory_path is not None else None
        self.run_id = uuid.uuid4().hex[:12]
        self._envs = [make(env_id, **self.env_kwargs) for _ in range(num_envs)]
        self.possible_agents = list(self._envs[0].possible_agents)
        self._leagues: dict[str, Any] = {}
        self._players: dict[str, _Player] = {}
        for name, obj in policies.items():
            if _is_league(obj):
                self._leagues[name] = obj
            else:
                self._players[name] = _Player(name, _resolve(env_id, obj))
        if mapping is None and len(policies) > 1:
            raise ValueError(
                f"several policies {sorted(policies)} but no mapping: pass mapping= (by agent, "
                "by role, or a function (agent, role, episode_id) -> policy name)"
            )
        self.mapping = mapping
        self._only_policy = next(iter(policies))
        self._check_mapping()
        self._resolved_opponents: dict[Any, tuple[Any, _Player]] = {}
        # (id of a slot's env, agent) -> (a bot as given, that slot's own copy of it).
        self._slot_bots: dict[tuple[int, str], tuple[Bot, _Player]] = {}
        self._league_rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        self.records: list[dict[str, Any]] = []
        self.stats = RolloutStats()

    # ---- mapping --------------------------------------------------------------------------
    def _policy_name(self, agent: str, role: str, episode_id: int) -> str:
        mapping = self.mapping
        if mapping is None:
            return self._only_policy
        if callable(mapping) and not isinstance(mapping, Mapping):
            name = mapping(agent, role, episode_id)
        elif agent in mapping:
            name = mapping[agent]
        elif role in mapping:
            name = mapping[role]
        else:
            raise ValueError(f"mapping has no entry for agent {agent!r} or role {role!r}")
        if name not in self._players and name not in self._leagues:
            raise ValueError(
                f"mapping sent {agent!r} to unknown policy {name!r}; known: "
                f"{sorted({**self._players, **self._leagues})}"
            )
        return name

    def _check_mapping(self) -> None:
        env = self._envs[0]
        env.reset(seed=self.seed)
        for agent in self.possible_agents:
            self._policy_name(agent, env.infos[agent]["role"], 0)

    def _league_player(self, league_name: str, drawn: Any, label: str) -> _Player:
        """The engine's player for an opponent a league drew (built once per opponent).

        Bots are not kept: a league may draw a new one every episode, and :meth:`_start` gives
        each game its own copy anyway.
        """
        if isinstance(drawn, Bot):
            return _Player(f"{league_name}/{label}", drawn)
        key: Any = ("name", drawn) if isinstance(drawn, str) else id(drawn)
        cached = self._resolved_opponents.get(key)
        if cached is None or not (isinstance(drawn, str) or cached[0] is drawn):
            player = _Player(f"{league_name}/{label}", _resolve(self.env_id, drawn))
            cached = self._resolved_opponents[key] = (drawn, player)
        return cached[1]

    # ---- episodes -------------------------------------------------------------------------
    def _start(self, env: Any, episode_id: int) -> _Episode:
        group_id = episode_id // self.group_size
        env_seed = self.seed + group_id
        env.reset(seed=env_seed)
        ep = _Episode(env, episode_id, group_id, env_seed)
        for seat, agent in enumerate(self.possible_agents):
            role = env.infos[agent]["role"]
            name = self._policy_name(agent, role, episode_id)
            if name in self._leagues:
                league = self._leagues[name]
                label, drawn = league.sample(self._league_rng, env_id=self.env_id)
                player = self._league_player(name, drawn, str(label))
                ep.league_seats[agent] = (league, str(label))
            else:
                player = self._players[name]
            if isinstance(player.obj, Bot):
                player = self._slot_bot(env, agent, player)
                player.obj.reset(bot_seed(self.seed, episode_id, seat))
            ep.players[agent] = player
            ep.pre_reward[agent] = 0.0
            ep.invalid[agent] = 0
        return ep

    def _slot_bot(self, env: Any, agent: str, player: _Player) -> _Player:
        """The copy of a bot that plays ``agent`` in ``env``'s slot.

        One bot object serves every game in flight (and maybe several seats); re-seeded at
        each game's start, its generator would be shared by the games in flight, so a game's
        moves would depend on ``num_envs``. A copy per slot and seat keeps each game's bot
        moves a function of ``(seed, episode_id, seat)`` alone, as in the arena.
        """
        key = (id(env), agent)
        cached = self._slot_bots.get(key)
        if cached is None or cached[0] is not player.obj:
            cached = self._slot_bots[key] = (
                player.obj,
                _Player(player.name, copy.deepcopy(player.obj)),
            )
        return cached[1]

    def _credit(self, ep: _Episode, agent: str, reward: float, info: Mapping[str, Any]) -> None:
        """Give ``agent``'s reward since its last action to that action's record."""
        record = ep.last_record.get(agent)
        if record is None:
            ep.pre_reward[agent] += float(reward)
        else:
            record["reward"] = float(reward)
            record["reward_components"] = dict(info.get("reward_components") or {})

    def _advance(self, ep: _Episode) -> tuple[str, str, dict[str, Any]] | None:
        """Play scripted moves and dead steps until a batched policy must act or the game ends."""
        env = ep.env
        while env.agents:
            agent = env.agent_selection
            _, reward, terminated, truncated, info = env.last(observe=False)
            self._credit(ep, agent, reward, info)
            if terminated or truncated:
                ep.truncated |= bool(truncated)
                env.step(None)
                continue
            player = ep.players[agent]
            observation = env.observe(agent)
            if player.batched:
                return agent, observation, info
            if player.kind == "bot":
                action = player.obj.act(env.unwrapped, agent)
            else:
                action = player.obj(observation, info)
            self._step(ep, agent, observation, info, action, player.name, None)
        return None

    def _step(
        self,
        ep: _Episode,
        agent: str,
        observation: str,
        info: Mapping[str, Any],
        action: Any,
        policy: str,
        generation: Any,
    ) -> None:
        env = ep.env
        env.step(action)
        after = env.infos.get(agent, {})
        parse = after.get("parse") or {}
        invalid = bool(after.get("invalid_action", False))
        ep.invalid[agent] += invalid
        stats = self.stats
        stats.steps += 1
        stats.invalid_actions += invalid
        record: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "type": "step",
            "run_id": self.run_id,
            "episode_id": ep.episode_id,
            "group_id": ep.group_id,
            "env_id": self.env_id,
            "env_seed": ep.env_seed,
            "agent": agent,
            "role": info.get("role"),
            "seat": info.get("seat"),
            "turn": info.get("turn"),
            "step": len(ep.records),
            "policy": policy,
            "prompt": observation,
            "completion": self._action_text(env, action),
            "prompt_token_ids": None,
            "token_ids": None,
            "logprobs": None,
            "finish_reason": "policy" if ep.players[agent].kind == "act" else "bot",
            "error": None,
            "reward": 0.0,
            "reward_components": {},
            "return": 0.0,
            "invalid_action": invalid,
            "parse_ok": bool(parse.get("ok", not invalid)),
            "parse_error": parse.get("error"),
            "last": False,
        }
        if generation is not None:
            record.update(
                prompt=generation.prompt_text or observation,
                prompt_token_ids=generation.prompt_token_ids,
                token_ids=generation.token_ids,
                logprobs=generation.logprobs,
                finish_reason=generation.finish_reason,
                error=generation.error,
            )
            if not generation.ok:
                ep.errors += 1
                stats.failed_generations += 1
        ep.records.append(record)
        ep.last_record[agent] = record

    @staticmethod
    def _action_text(env: Any, action: Any) -> str:
        """The text of an action: itself, or the canonical move an index names."""
        if isinstance(action, str):
            return action
        names = getattr(env.unwrapped, "move_names", ())
        if isinstance(action, (int, np.integer)) and 0 <= int(action) < len(names):
            return names[int(action)]
        return str(action)

    def _finish(self, ep: _Episode, writer: TrajectoryWriter | None) -> None:
        returns = dict(ep.pre_reward)
        for record in ep.records:
            returns[record["agent"]] += record["reward"]
        for record in ep.last_record.values():
            record["last"] = True
        for record in ep.records:
            record["return"] = returns[record["agent"]]
        summary = {
            "schema_version": SCHEMA_VERSION,
            "type": "episode",
            "run_id": self.run_id,
            "episode_id": ep.episode_id,
            "group_id": ep.group_id,
            "env_id": self.env_id,
            "env_seed": ep.env_seed,
            "steps": len(ep.records),
            "returns": returns,
            "policies": {a: p.name for a, p in ep.players.items()},
            "invalid": ep.invalid,
            "errors": ep.errors,
            "truncated": ep.truncated,
        }
        # A league learns how the other seats did against what it sent.
        if ep.league_seats:
            others = [a for a in self.possible_agents if a not in ep.league_seats]
            if others:
                learner_score = sum(returns[a] for a in others) / len(others)
                for league, label in ep.league_seats.values():
                    league.record(label, reward=learner_score)
        if writer is not None:
            writer.write_episode([*ep.records, summary])
        if self.keep_records:
            self.records.extend(ep.records)
            self.records.append(summary)
        self.stats.episodes += 1

    # ---- the loop -------------------------------------------------------------------------
    def run(self, episodes: int) -> RolloutStats:
        """Play ``episodes`` episodes; return the statistics of this run.

        Episode ids continue from the previous run of this engine, so runs append cleanly to
        the same trajectory file.
        """
        if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
            raise ValueError(f"expected episodes to be an int >= 1, got {episodes!r}")
        from tqdm import tqdm

        first = getattr(self, "_next_episode", 0)
        last = first + episodes
        next_episode = first
        self.records = []
        self.stats = stats = RolloutStats()
        writer = TrajectoryWriter(self.trajectory_path) if self.trajectory_path else None
        slots: list[_Episode | None] = [None] * self.num_envs
        bar = tqdm(total=episodes, unit="ep", disable=not self.progress, desc=self.env_id)
        started = time.perf_counter()
        try:
            while stats.episodes < episodes:
                pending: dict[str, list[tuple[_Episode, str, str, dict[str, Any]]]] = {}
                players: dict[str, _Player] = {}
                for i in range(self.num_envs):
                    while True:
                        ep = slots[i]
                        if ep is None:
                            if next_episode >= last:
                                break
                            ep = slots[i] = self._start(self._envs[i], next_episode)
                            next_episode += 1
                        request = self._advance(ep)
                        if request is not None:
                            player = ep.players[request[0]]
                            pending.setdefault(player.name, []).append((ep, *request))
                            players[player.name] = player
                            break
                        self._finish(ep, writer)
                        bar.update(1)
                        slots[i] = None
                for name, items in pending.items():
                    self._call(players[name], items)
                if self.progress:
                    elapsed = time.perf_counter() - started
                    bar.set_postfix_str(
                        f"{stats.episodes / elapsed:.2f} ep/s, {stats.tokens / elapsed:.0f} tok/s",
                        refresh=False,
                    )
        finally:
            stats.wall_seconds = time.perf_counter() - started
            bar.close()
            if writer is not None:
                writer.close()
            self._next_episode = next_episode
        return stats

    def _call(self, player: _Player, items: Sequence[tuple[_Episode, str, str, dict]]) -> None:
        """One batched policy call for every pending prompt that maps to ``player``."""
        stats = self.stats
        observations = [item[2] for item in items]
        infos = [item[3] for item in items]
        t0 = time.perf_counter()
        try:
            if player.kind == "generate":
                generations = player.obj.generate(observations, infos)
                actions = [g.text for g in generations]
            else:
                generations = [None] * len(items)
                actions = list(player.obj.act(observations, infos))
        except Exception as exc:
            raise RuntimeError(
                f"policy {player.name!r} raised {type(exc).__name__} on a batch of "
                f"{len(items)} prompts of {self.env_id}: {exc}"
            ) from exc
        stats.policy_seconds += time.perf_counter() - t0
        if len(actions) != len(items):
            raise RuntimeError(
                f"policy {player.name!r} returned {len(actions)} actions for {len(items)} prompts"
            )
        stats.policy_calls[player.name] = stats.policy_calls.get(player.name, 0) + 1
        stats.batch_sizes.setdefault(player.name, []).append(len(items))
        stats.model_steps += len(items)
        for (ep, agent, observation, info), action, gen in zip(
            items, actions, generations, strict=True
        ):
            if gen is not None:
                stats.tokens += gen.num_tokens
            self._step(ep, agent, observation, info, action, player.name, gen)

    def close(self) -> None:
        """Close the envs."""
        for env in self._envs:
            env.close()
