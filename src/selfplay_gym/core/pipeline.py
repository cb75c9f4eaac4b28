r"""The base of proposer/solver/judge pipelines: text agents that act in phases, as one AEC env.

Task-generation self-play (SSP, AZR, MAE, PasoDoble, SvS, ...) and two-role adversarial games
(SPC, Self-RedTeam) share their machinery: agents named ``<role>_<index>`` that each see their
own conversation, answer with free text, get a reward whose named parts are reported, and act
when the game's phase calls them -- not in a fixed rotation. :class:`PipelineEnv` is that
machinery; a family writes only its phases:

* :meth:`PipelineEnv._begin` sets the episode up (the task, the first prompts) and schedules the
  first agents with :meth:`~PipelineEnv._schedule`;
* :meth:`PipelineEnv._handle` reads the acting agent's reply and moves the game on: rewards with
  :meth:`~PipelineEnv._reward`, finishes agents with :meth:`~PipelineEnv._finish`, prompts and
  schedules the next ones, and ends the episode with :meth:`~PipelineEnv._end`.

:class:`ProposeSolveEnv` builds the common pipeline on it -- ``propose -> validate -> solve ->
judge (optional) -> score`` -- with hooks for the prompts, the proposal parser, the validity
rules and the verifier, a proposer reward rule from :mod:`selfplay_gym.core.rewards`, a judge
that is either a callable or an agent of the env (``judge_0``, trained too), and a
:class:`TaskBuffer` of accepted tasks that later proposals use as references.

Agents are scheduled in a queue: an agent acts when the phase puts it there; an agent whose
part is over is terminated (it takes one ``None`` step and leaves, as PettingZoo requires) and
its reward arrives then -- a solver's when it is scored, the proposer's when the task is.
Unreadable replies are the pipeline's invalid moves: with ``retries > 0`` the agent is told what
was wrong and asked again, otherwise the phase applies its invalid outcome (an invalid task, a
wrong answer). Nothing an agent writes raises.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from selfplay_gym.core.rewards import ProposerRule, proposer_rule
from selfplay_gym.core.verifiers import DEFAULT_JUDGE_TIMEOUT, JudgeTimeout, WallClockLimit
from selfplay_gym.spaces import UnicodeText

__all__ = ["Seat", "PipelineEnv", "ProposeSolveEnv", "TaskBuffer", "Scored", "as_scored"]

_EMPTY_MASK = np.zeros(0, dtype=np.int8)
_EMPTY_MASK.flags.writeable = False


class Seat:
    """What one agent has seen and done in the current episode."""

    __slots__ = (
        "role",
        "turn",
        "messages",
        "parse",
        "invalid",
        "components",
        "finished",
        "retries_left",
        "extra",
    )

    def __init__(self, role: str):
        self.role = role
        self.turn = 0
        self.messages: list[dict[str, str]] = []
        self.parse: dict[str, Any] = {"ok": True, "extracted": None, "error": None}
        self.invalid = False
        self.components: dict[str, float] = {}
        self.finished = False
        self.retries_left = 0
        self.extra: dict[str, Any] = {}


class Scored(NamedTuple):
    """What a verifier or judge said, in the env's own terms."""

    score: float
    """The score in [0, 1] (1: correct, best)."""
    ok: bool = True
    """False when the verifier could not decide and a fallback was used."""
    reason: str = ""
    """Why, in words."""


def as_scored(verdict: Any, fallback: float = 0.0) -> Scored:
    """A verifier's answer (a ``Verdict``-like object, a bool or a number) as :class:`Scored`.

    Anything unreadable -- a NaN or an infinity, a string, ``None`` -- is the ``fallback`` with
    ``ok=False``.

    Example:
        >>> tuple(as_scored(True)), as_scored(0.25).score
        ((1.0, True, ''), 0.25)
        >>> as_scored(float("nan"), 0.5)
        Scored(score=0.5, ok=False, reason='the verifier returned nan')
    """
    if isinstance(verdict, Scored):
        return verdict
    if hasattr(verdict, "score"):
        score = verdict.score
        ok = bool(getattr(verdict, "ok", True))
        reason = str(getattr(verdict, "reason", "") or "")
    else:
        score, ok, reason = verdict, True, ""
    if isinstance(score, (bool, np.bool_)):
        score = float(score)
    if isinstance(score, (np.integer, np.floating)):
        score = score.item()  # a numpy scalar from a reward model is a number
    if not isinstance(score, (int, float)) or not math.isfinite(score):
        return Scored(fallback, False, f"the verifier returned {score!r}"[:200])
    return Scored(min(1.0, max(0.0, float(score))), ok, reason)


class TaskBuffer:
    """Accepted tasks, newest last, for references in later proposals (AZR's, MAE's pools).

    Bounded (``maxlen``); sampling uses the env's generator, so it replays with the seed.

    Example:
        >>> buf = TaskBuffer(maxlen=2, seed_tasks=[{"question": "1+1?"}])
        >>> buf.add({"question": "2+2?"}); buf.add({"question": "3+3?"})
        >>> [t["question"] for t in buf]
        ['2+2?', '3+3?']
    """

    def __init__(self, maxlen: int = 1024, seed_tasks: Iterable[Mapping[str, Any]] = ()):
        if maxlen < 1:
            raise ValueError(f"expected maxlen >= 1, got {maxlen}")
        self._tasks: deque[dict[str, Any]] = deque(maxlen=int(maxlen))
        for task in seed_tasks:
            self.add(task)

    def add(self, task: Mapping[str, Any]) -> None:
        """Keep ``task`` (the oldest is dropped when full)."""
        self._tasks.append(dict(task))

    def sample(self, rng: np.random.Generator, k: int = 1) -> list[dict[str, Any]]:
        """Up to ``k`` distinct tasks drawn uniformly (fewer if the buffer holds fewer)."""
        n = len(self._tasks)
        if n == 0 or k <= 0:
            return []
        picks = rng.choice(n, size=min(k, n), replace=False)
        return [dict(self._tasks[int(i)]) for i in picks]

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self):
        return (dict(t) for t in self._tasks)


class PipelineEnv(AECEnv):
    """Text agents acting in phases (see the module docstring); subclasses write the phases.

    Args:
        agents: The agent names, ``<role>_<index>``.
        retries: Extra attempts an agent gets after an unreadable reply (with feedback).
        max_action_chars: Characters of a reply that are read (its head; the rest is ignored).
        max_observation_chars: Cap on a prompt (older turns are dropped first).
        render_mode: ``"ansi"`` for a transcript, or ``None``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,
        "name": "pipeline_v0",
        "is_parallelizable": False,
    }
    move_names: ClassVar[tuple[str, ...]] = ()
    """Free text: no finite move set."""
    state_size: ClassVar[int] = 0

    def __init__(
        self,
        agents: Sequence[str],
        *,
        retries: int = 0,
        max_action_chars: int = 8192,
        max_observation_chars: int = 65536,
        render_mode: str | None = None,
    ):
        super().__init__()
        for name in agents:
            role, _, index = name.rpartition("_")
            if not role or not index.isdigit():
                raise ValueError(f"expected agent names like 'solver_0', got {name!r}")
        if len(set(agents)) != len(agents) or not agents:
            raise ValueError(f"expected distinct agent names, got {list(agents)}")
        for key, value in (
            ("retries", retries),
            ("max_action_chars", max_action_chars),
            ("max_observation_chars", max_observation_chars),
        ):
            if not isinstance(value, int) or value < (0 if key == "retries" else 1):
                raise ValueError(f"expected {key} to be a positive integer, got {value!r}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"expected render_mode None or 'ansi', got {render_mode!r}")
        self.possible_agents = list(agents)
        self.retries = retries
        self.max_action_chars = max_action_chars
        self.max_observation_chars = max_observation_chars
        self.render_mode = render_mode
        space = UnicodeText(max_observation_chars)
        self._observation_spaces = dict.fromkeys(self.possible_agents, space)
        self._action_spaces = dict.fromkeys(self.possible_agents, UnicodeText(None))
        self._np_random: np.random.Generator | None = None
        self._np_random_seed: int | None = None
        self._seats: dict[str, Seat] = {}
        self._queue: deque[str] = deque()
        self._transcript: list[str] = []
        self._infos: dict[str, dict[str, Any]] = {}
        self.agents: list[str] = []
        self.phase = "done"

    # ---- spaces and randomness ---------------------------------------------------------------
    def observation_space(self, agent: str) -> UnicodeText:
        """The prompt space of ``agent``."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> UnicodeText:
        """Any string."""
        return self._action_spaces[agent]

    @property
    def np_random(self) -> np.random.Generator:
        """The env's generator (seeded by ``reset``)."""
        if self._np_random is None:
            self._np_random, self._np_random_seed = seeding.np_random()
        return self._np_random

    # ---- the episode ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start an episode (``options`` are the family's, e.g. a fixed task)."""
        if seed is not None or self._np_random is None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self._seats = {a: Seat(a.rpartition("_")[0]) for a in self.agents}
        self._queue = deque()
        self._transcript = []
        self.phase = "start"
        self._begin(dict(options or {}))
        self._select_next()
        self._refresh_infos()

    def step(self, action: Any) -> None:
        """Play ``action`` (the selected agent's reply); ``None`` for an agent that has finished."""
        if not self.agents:
            raise RuntimeError("no episode in progress: call reset() first")
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        seat = self._seats[agent]
        self._cumulative_rewards[agent] = 0.0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        seat.components = {}
        seat.turn += 1
        if self._queue and self._queue[0] == agent:
            self._queue.popleft()
        if isinstance(action, str):
            text = action[: self.max_action_chars]
            seat.parse = {"ok": True, "extracted": None, "error": None}
            seat.invalid = False
            self._handle(agent, text)
        else:
            self._unreadable(agent, f"expected a str reply, got {type(action).__name__}", "")
        for a, r in self.rewards.items():
            self._cumulative_rewards[a] += r
        self._select_next()
        self._refresh_infos()

    # ---- what subclasses write -------------------------------------------------------------------
    def _begin(self, options: dict[str, Any]) -> None:
        """Set the episode up: the task, the first prompts, the first agents scheduled."""
        raise NotImplementedError

    def _handle(self, agent: str, text: str) -> None:
        """Read ``agent``'s reply ``text`` and move the game on."""
        raise NotImplementedError

    def _on_unreadable(self, agent: str, error: str) -> None:
        """The outcome of a reply that stays unreadable after the retries (default: finish)."""
        self._finish(agent)

    def _extra_info(self, agent: str) -> dict[str, Any]:
        """Family keys of ``agent``'s info (never another agent's secrets)."""
        return {}

    # ---- helpers for subclasses ------------------------------------------------------------------
    def _prompt(self, agent: str, system: str, user: str) -> None:
        """Start a new conversation for ``agent`` (its earlier one is gone from its prompt)."""
        seat = self._seats[agent]
        seat.messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        seat.retries_left = self.retries

    def _say(self, agent: str, role: str, content: str) -> None:
        """Append a message to ``agent``'s conversation."""
        self._seats[agent].messages.append({"role": role, "content": content})

    def _schedule(self, *agents: str, first: bool = False) -> None:
        """Queue ``agents`` to act, in order (at the front with ``first=True``)."""
        if first:
            self._queue.extendleft(reversed(agents))
        else:
            self._queue.extend(agents)

    def _reward(self, agent: str, component: str, value: float) -> None:
        """Add ``value`` to ``agent``'s reward under the name ``component``."""
        if agent not in self.rewards:
            return
        self.rewards[agent] += float(value)
        comps = self._seats[agent].components
        comps[component] = comps.get(component, 0.0) + float(value)

    def _finish(self, agent: str, truncated: bool = False) -> None:
        """End ``agent``'s part (terminated, or truncated by a budget)."""
        seat = self._seats[agent]
        seat.finished = True
        if agent in self.terminations:
            if truncated:
                self.truncations[agent] = True
            else:
                self.terminations[agent] = True

    def _end(self) -> None:
        """End the episode: every agent still in it is finished."""
        self.phase = "done"
        self._queue.clear()
        for a in self.agents:
            if not (self.terminations[a] or self.truncations[a]):
                self._finish(a)

    def _unreadable(self, agent: str, error: str, text: str) -> bool:
        """Record an unreadable reply; ask again if retries are left (True), else apply the outcome."""
        seat = self._seats[agent]
        seat.parse = {"ok": False, "extracted": None, "error": error}
        seat.invalid = True
        self._note(f"[{agent}] unreadable: {error}")
        if seat.retries_left > 0:
            seat.retries_left -= 1
            self._say(agent, "assistant", text[:2000])
            self._say(agent, "user", f"Your reply could not be read: {error}. Please answer again.")
            self._schedule(agent, first=True)
            return True
        self._on_unreadable(agent, error)
        return False

    def _note(self, line: str) -> None:
        self._transcript.append(line)

    # ---- agent order -------------------------------------------------------------------------------
    def _select_next(self) -> None:
        for a in self.agents:  # a finished agent takes its None step first (PettingZoo's rule)
            if self.terminations[a] or self.truncations[a]:
                self.agent_selection = a
                return
        while self._queue and self._queue[0] not in self.agents:
            self._queue.popleft()
        if self._queue:
            self.agent_selection = self._queue[0]
            return
        if self.agents:  # nobody is scheduled: the episode is over
            self._end()
            self.agent_selection = self.agents[0]

    def _was_dead_step(self, action: Any) -> None:
        if action is not None:
            raise ValueError("when an agent is dead, the only valid action is None")
        agent = self.agent_selection
        self.agents.remove(agent)
        for table in (self.terminations, self.truncations, self.rewards, self._cumulative_rewards):
            del table[agent]
        self._infos.pop(agent, None)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        if self.agents:
            self._select_next()
        self._refresh_infos()

    # ---- observations, infos, rendering -----------------------------------------------------------
    def _fit(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """The messages, oldest turns after the task dropped so the prompt fits the cap."""
        total = sum(len(m["content"]) + 2 for m in messages)
        if total <= self.max_observation_chars:
            return messages
        head, rest = messages[:2], messages[2:]
        budget = self.max_observation_chars - sum(len(m["content"]) + 2 for m in head) - 40
        kept: list[dict[str, str]] = []
        for m in reversed(rest):
            size = len(m["content"]) + 2
            if size > budget:
                break
            kept.append(m)
            budget -= size
        if kept and kept[-1]["role"] == "user":  # keep the alternation after the note
            kept.pop()
        note = {"role": "user", "content": "[earlier turns omitted]"}
        return [*head, note, *reversed(kept)]

    def observe(self, agent: str) -> str:
        """The prompt of ``agent``: its conversation so far ("" before it is prompted)."""
        seat = self._seats.get(agent)
        if seat is None or not seat.messages:
            return ""
        text = "\n\n".join(m["content"] for m in self._fit(seat.messages))
        return text[: self.max_observation_chars]

    @property
    def infos(self) -> dict[str, dict[str, Any]]:  # type: ignore[override]
        """Each live agent's info (DESIGN.md section 3, plus the family's keys)."""
        return self._infos

    @infos.setter
    def infos(self, value: dict[str, dict[str, Any]]) -> None:
        self._infos = value

    def _refresh_infos(self) -> None:
        self._infos = {a: self._build_info(a) for a in self.agents}

    def _build_info(self, agent: str) -> dict[str, Any]:
        role, _, index = agent.rpartition("_")
        seat = self._seats[agent]
        info: dict[str, Any] = {
            "role": role,
            "seat": int(index),
            "turn": seat.turn,
            "phase": self.phase,
            "legal_actions": [],
            "action_mask": _EMPTY_MASK,
            "parse": dict(seat.parse),
            "invalid_action": bool(seat.invalid),
            "reward_components": dict(seat.components),
            "messages": [dict(m) for m in self._fit(seat.messages)],
        }
        info.update(self._extra_info(agent))
        info.update(seat.extra)
        return info

    def render(self) -> str | None:
        """The transcript of the episode (``ansi``)."""
        if self.render_mode is None:
            from gymnasium import logger

            logger.warn("You are calling render() without a render_mode; pass render_mode='ansi'.")
            return None
        return "\n".join(self._transcript)

    def close(self) -> None:
        """Nothing to release."""


class ProposeSolveEnv(PipelineEnv):
    """``propose -> validate -> solve -> judge (optional) -> score`` with pluggable parts.

    Agents: ``proposer_0``, ``solver_0 .. solver_{N-1}`` and, when the judge is an agent,
    ``judge_0``. The proposer writes a task; the validity rules (:meth:`_validate`) and, if
    any, the judge's score of the task decide whether it is valid; each solver gets the same
    task and answers once; each answer is scored by the verifier (:meth:`_verify`) or, with an
    answer judge, by the judge; the proposer is rewarded by ``proposer_reward`` of the solve rate.

    Subclasses write the prompts (:meth:`_proposer_prompt`, :meth:`_solver_prompt`), the
    proposal parser (:meth:`_parse_proposal`) and the verifier; the rest is here.

    Args:
        num_solvers: N.
        proposer_reward: A rule of :mod:`selfplay_gym.core.rewards` (name, object or ``f(s)``).
        invalid_reward: The proposer's reward for an invalid task (unless the rule sets one).
        judge: ``None``; a callable ``judge(task, response_or_None) -> Verdict`` (scores the
            task when ``response`` is ``None``); or ``"agent"``: ``judge_0`` is an agent of the
            env that writes each judgement (prompts from :meth:`_judge_prompt`, read by
            :meth:`_read_judgement`).
        judge_answers: Whether answers are scored by the judge (MAE) rather than the verifier.
        judge_fallback: The score of a judgement that failed (exception, unreadable reply,
            timeout).
        judge_timeout: Wall-clock seconds a judge *callable* may take per call (``None``: no
            limit). The call runs in a daemon worker thread; past the limit it is abandoned
            and the judgement is ``judge_fallback`` with the reason "judge timed out after X
            s", and the episode goes on. Python cannot kill the thread: while it still runs,
            later judgements fall back at once ("judge skipped: ...") rather than call the
            judge again (see :class:`~selfplay_gym.core.verifiers.WallClockLimit`); for a hard
            limit run the judge in a process you can kill. A judge *agent* is not timed.
        min_quality: Tasks the judge scores below this are invalid (``None``: no gate).
        buffer_size: Accepted tasks kept for references.
        retries, max_action_chars, max_observation_chars, render_mode: see :class:`PipelineEnv`.
    """

    def __init__(
        self,
        *,
        num_solvers: int = 5,
        proposer_reward: str | ProposerRule | Callable[[float], float] = "1-s",
        invalid_reward: float = 0.0,
        judge: Any = None,
        judge_answers: bool = False,
        judge_fallback: float = 0.5,
        judge_timeout: float | None = DEFAULT_JUDGE_TIMEOUT,
        min_quality: float | None = None,
        buffer_size: int = 1024,
        **kwargs: Any,
    ):
        if not isinstance(num_solvers, int) or num_solvers < 1:
            raise ValueError(f"expected num_solvers >= 1, got {num_solvers!r}")
        if judge is not None and judge != "agent" and not callable(judge):
            raise TypeError(f"expected judge None, 'agent' or a callable, got {judge!r}")
        if judge_answers and judge is None:
            raise ValueError("judge_answers=True needs a judge")
        self.num_solvers = num_solvers
        self.solvers = [f"solver_{i}" for i in range(num_solvers)]
        self.judge = judge
        self.judge_is_agent = judge == "agent"
        agents = ["proposer_0", *self.solvers, *(["judge_0"] if self.judge_is_agent else [])]
        super().__init__(agents, **kwargs)
        self.proposer_reward = proposer_rule(proposer_reward)
        self.invalid_reward = float(invalid_reward)
        self.judge_answers = bool(judge_answers)
        self.judge_fallback = float(judge_fallback)
        self.judge_limit = WallClockLimit(judge_timeout)
        self.min_quality = min_quality
        self.buffer = TaskBuffer(buffer_size, self._seed_tasks())
        self._task: dict[str, Any] | None = None
        self._validity: dict[str, bool | None] = {}
        self._quality: Scored | None = None
        self._answers: dict[str, str | None] = {}
        self._scores: dict[str, Scored] = {}
        self._pending_judgements: deque[tuple[str, str | None]] = deque()
        self._judging: str | None = None

    # ---- hooks -------------------------------------------------------------------------------------
    def _seed_tasks(self) -> Iterable[Mapping[str, Any]]:
        """Tasks the buffer starts with (references for the first proposals)."""
        return ()

    def _proposer_prompt(self, options: dict[str, Any]) -> tuple[str, str]:
        """``(system, user)`` of the proposer this episode."""
        raise NotImplementedError

    def _parse_proposal(self, text: str) -> tuple[dict[str, Any] | None, str | None]:
        """``(task, None)`` from the proposer's reply, or ``(None, error)``.

        A task is a dict with at least ``question``; ``answer`` is the reference if any.
        """
        raise NotImplementedError

    def _validate(self, task: dict[str, Any]) -> dict[str, bool]:
        """The cheap validity rules of ``task``, by name (all must hold)."""
        return {}

    def _solver_prompt(self, task: dict[str, Any]) -> tuple[str, str]:
        """``(system, user)`` of every solver."""
        raise NotImplementedError

    def _verify(self, task: dict[str, Any], reply: str) -> tuple[str | None, Any]:
        """``(extracted answer or None, verdict)`` of a solver's reply (a Verdict, bool or score)."""
        raise NotImplementedError

    def _judge_prompt(self, task: dict[str, Any], response: str | None) -> tuple[str, str]:
        """``(system, user)`` of the judge agent for one judgement."""
        raise NotImplementedError

    def _read_judgement(self, text: str) -> Any:
        """The judge agent's reply as a Verdict-like score (``None``: unreadable)."""
        raise NotImplementedError

    def _solver_components(self, agent: str, scored: Scored) -> dict[str, float]:
        """A solver's reward parts from its score (default: ``{"correct": score}``)."""
        return {"correct": scored.score}

    def _rule_context(self, task: dict[str, Any]) -> dict[str, Any]:
        """Extra inputs of the proposer rule: ``quality`` (the judge's) and ``fmt``.

        ``fmt`` is 1 (the proposal parsed); subclasses add theirs (e.g. ``diversity``).
        """
        context: dict[str, Any] = {"fmt": 1.0}
        if self._quality is not None:
            context["quality"] = self._quality.score
        return context

    def _accepted(self, task: dict[str, Any], solve_rate: float) -> None:
        """Called when a valid task has been scored (default: into the buffer)."""
        self.buffer.add({**task, "solve_rate": solve_rate})

    # ---- phases ------------------------------------------------------------------------------------
    def _begin(self, options: dict[str, Any]) -> None:
        self._task = None
        self._validity = {}
        self._quality = None
        self._answers = {}
        self._scores = {}
        self._pending_judgements = deque()
        self._judging: str | None = None
        if "task" in options:  # a given task: the solvers' side alone (e.g. a fixed problem)
            task = dict(options["task"])
            if not isinstance(task.get("question"), str):
                raise ValueError("options['task'] needs a 'question' string")
            self._finish("proposer_0")
            self._seats["proposer_0"].extra["given_task"] = True
            self._task = task
            self._start_solving()
            return
        self.phase = "propose"
        system, user = self._proposer_prompt(options)
        self._prompt("proposer_0", system, user)
        self._schedule("proposer_0")

    def _handle(self, agent: str, text: str) -> None:
        role = self._seats[agent].role
        if role == "proposer":
            self._handle_proposal(text)
        elif role == "solver":
            self._handle_answer(agent, text)
        else:
            self._handle_judgement(text)

    def _on_unreadable(self, agent: str, error: str) -> None:
        role = self._seats[agent].role
        if role == "proposer":
            self._validity = {"parsed": False}
            self._invalid_task(f"unreadable proposal: {error}")
        elif role == "solver":
            self._record_answer(agent, None, Scored(0.0, True, error))
        else:
            self._record_judgement(Scored(self.judge_fallback, False, error))

    def _handle_proposal(self, text: str) -> None:
        task, error = self._parse_proposal(text)
        if task is None:
            self._unreadable("proposer_0", error or "no task found", text)
            return
        self._say("proposer_0", "assistant", text[:4000])
        self._seats["proposer_0"].parse = {"ok": True, "extracted": task["question"], "error": None}
        self._task = task
        self._note(f"[proposer_0] {task['question'][:500]}")
        self.phase = "validate"
        self._validity = {"parsed": True, **self._validate(task)}
        failed = [k for k, ok in self._validity.items() if not ok]
        if failed:
            self._invalid_task("failed " + ", ".join(failed))
            return
        if self.judge is None:
            self._start_solving()
        else:
            self._ask_judge(None)

    def _invalid_task(self, reason: str) -> None:
        rule_value = self.proposer_reward.invalid_reward
        value = self.invalid_reward if rule_value is None else rule_value
        seat = self._seats["proposer_0"]
        seat.extra.update(task_valid=False, invalid_reason=reason)
        self._reward("proposer_0", "invalid_task", value)
        self._note(f"[env] invalid task ({reason})")
        for s in self.solvers:
            self._reward(s, "invalid_task", 0.0)
        self._end()

    def _start_solving(self) -> None:
        assert self._task is not None
        self.phase = "solve"
        system, user = self._solver_prompt(self._task)
        for s in self.solvers:
            self._prompt(s, system, user)
        self._schedule(*self.solvers)

    def _handle_answer(self, agent: str, text: str) -> None:
        assert self._task is not None
        try:
            extracted, verdict = self._verify(self._task, text)
            scored = as_scored(verdict)
        except Exception as exc:  # a broken verifier is an outcome, never a crash of the rollout
            # The answer was given: no retry, it scores 0 and the error is recorded.
            scored = Scored(0.0, False, f"verifier error: {exc!r}"[:300])
            self._say(agent, "assistant", text[:4000])
            self._record_answer(agent, None, scored)
            return
        if extracted is None:  # no answer in the reply: ask again, or score it 0
            self._unreadable(agent, scored.reason or "no answer found", text)
            return
        self._say(agent, "assistant", text[:4000])
        self._seats[agent].parse = {"ok": True, "extracted": extracted, "error": None}
        self._record_answer(agent, extracted, scored)

    def _record_answer(self, agent: str, extracted: str | None, scored: Scored) -> None:
        self._answers[agent] = extracted
        seat = self._seats[agent]
        seat.extra["prediction"] = extracted
        if self.judge_answers and extracted is not None:  # scored later by the judge
            self._pending_judgements.append((agent, extracted))
        else:
            self._score_solver(agent, scored)
        if len(self._answers) == len(self.solvers):
            if self.judge_answers:
                self.phase = "judge"
                self._next_judgement()
            else:
                self._score_task()

    def _score_solver(self, agent: str, scored: Scored) -> None:
        self._scores[agent] = scored
        seat = self._seats[agent]
        seat.extra.update(score=scored.score, verdict_ok=scored.ok, verdict=scored.reason)
        for name, value in self._solver_components(agent, scored).items():
            self._reward(agent, name, value)
        self._finish(agent)

    def _score_task(self) -> None:
        assert self._task is not None
        self.phase = "score"
        scores = [self._scores[s].score for s in self.solvers]
        s = sum(scores) / len(scores)
        seat = self._seats["proposer_0"]
        if not seat.extra.get("given_task"):
            context = self._rule_context(self._task)
            for name, value in self.proposer_reward(s, **context).items():
                self._reward("proposer_0", name, value)
            seat.extra.update(task_valid=True, solve_rate=s, solver_scores=scores)
            self._accepted(self._task, s)
        self._note(f"[env] solve rate {s:.2f}")
        self._end()

    # ---- judging -----------------------------------------------------------------------------------
    def _ask_judge(self, agent_or_none: str | None) -> None:
        """Judge the task (``None``) or a solver's answer, by the callable or the judge agent."""
        assert self._task is not None
        response = None if agent_or_none is None else self._answers.get(agent_or_none)
        if not self.judge_is_agent:
            try:
                verdict = self.judge_limit(self.judge, self._task["question"], response)
                scored = as_scored(verdict, self.judge_fallback)
            except JudgeTimeout as exc:
                scored = Scored(self.judge_fallback, False, str(exc))
            except Exception as exc:
                scored = Scored(self.judge_fallback, False, f"judge error: {exc!r}"[:300])
            if not scored.ok:
                scored = Scored(self.judge_fallback, False, scored.reason)
            self._record_judgement(scored, agent_or_none)
            return
        self._judging = agent_or_none
        system, user = self._judge_prompt(self._task, response)
        self._prompt("judge_0", system, user)
        self._schedule("judge_0", first=True)

    def _handle_judgement(self, text: str) -> None:
        try:
            verdict = self._read_judgement(text)
        except Exception as exc:
            verdict = None
            self._seats["judge_0"].extra["judge_error"] = repr(exc)[:300]
        if verdict is None:
            if self._unreadable("judge_0", "no score found", text):
                return
            return
        scored = as_scored(verdict, self.judge_fallback)
        self._seats["judge_0"].parse = {"ok": True, "extracted": str(scored.score), "error": None}
        self._reward("judge_0", "format", 1.0 / self._judgements_per_episode())
        self._record_judgement(scored, self._judging)

    def _judgements_per_episode(self) -> int:
        return 1 + (len(self.solvers) if self.judge_answers else 0)

    def _record_judgement(self, scored: Scored, about: str | None = "?") -> None:
        if about == "?":  # the judge agent's unreadable reply: what it was judging
            about = self._judging
        if about is None:
            self._quality = scored
            self._seats["proposer_0"].extra["quality"] = scored.score
            if not scored.ok:
                self._seats["proposer_0"].extra["quality_error"] = scored.reason
            self._note(f"[judge] task quality {scored.score:.2f}")
            if self.min_quality is not None and scored.score < self.min_quality:
                self._validity["quality"] = False
                self._invalid_task(f"quality {scored.score:.2f} below {self.min_quality}")
                return
            self._start_solving()
            return
        self._score_solver(about, scored)
        self._note(f"[judge] {about} scored {scored.score:.2f}")
        self._next_judgement()

    def _next_judgement(self) -> None:
        for agent, answer in self._answers.items():  # no answer to judge: scored as it stands
            if answer is None and agent not in self._scores:
                self._score_solver(agent, Scored(0.0, True, "no answer"))
        if self._pending_judgements:
            agent, _ = self._pending_judgements.popleft()
            self._ask_judge(agent)
        elif len(self._scores) == len(self.solvers):
            self._score_task()

    # ---- infos ---------------------------------------------------------------------------------------
    def _extra_info(self, agent: str) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if self._validity and agent == "proposer_0":
            info["validity"] = dict(self._validity)
        if self._task is not None and (agent == "proposer_0" or self.phase != "propose"):
            info["task"] = self._task["question"]
        if self.phase == "done" and self._task is not None and "answer" in self._task:
            info["reference"] = self._task["answer"]
        return info
