r"""Preference self-play (SPPO, SPIN, eva) as a PettingZoo AEC env: K responses, a pairwise judge, win rates.

A one-step preference game per prompt: ``K`` responders (samples of the same policy) answer the
same prompt; a pairwise preference judge compares every pair of responses; each responder is
rewarded with its estimated win rate against the others, ``P(y > pi)`` -- the quantity SPPO
regresses on (Wu et al. 2024, ``uclaml/SPPO``: K = 5, PairRM as the judge). The best and the
worst responses are reported as a chosen/rejected pair for DPO-style trainers (SPPO's and
SPIN's data step). Optionally a creator first evolves the prompt, rewarded by how informative
the evolved prompt is (eva, Ye et al. 2024).

:class:`LengthCoverageJudge` is a deterministic rule judge for tests and baselines;
:class:`SkillResponder`, :class:`ConstraintCreator` and :class:`ScriptedPreferencePlayer` are
the scripted players.

Example:
    >>> env = PreferenceGameEnv(num_responses=2)
    >>> env.reset(seed=0)
    >>> env.agent_selection
    'responder_0'
    >>> LengthCoverageJudge()("Name three colors", "Three colors: red, blue, green.", "ok").score
    1.0
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.pipeline import PipelineEnv, Scored, TaskBuffer, as_scored
from selfplay_gym.core.verifiers import DEFAULT_JUDGE_TIMEOUT, JudgeTimeout, WallClockLimit

__all__ = [
    "PreferenceGameEnv",
    "LengthCoverageJudge",
    "content_words",
    "preference_matrix",
    "SkillResponder",
    "ConstraintCreator",
    "ScriptedPreferencePlayer",
]

_WORD_RE = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have how i if in
    into is it its me my not of on or our please should so than that the their them then there
    these they this to was we were what when where which who why will with would you your about
    give tell write explain describe make list some any more most very just also""".split()
)
"""Words that never count as a prompt's content."""


def content_words(text: str, min_len: int = 3) -> set[str]:
    """The lowercase content words of ``text`` (no stopwords, at least ``min_len`` characters).

    Example:
        >>> sorted(content_words("Explain how rainbows form after the rain"))
        ['after', 'form', 'rain', 'rainbows']
    """
    return {w for w in _WORD_RE.findall(text.lower()) if len(w) >= min_len and w not in STOPWORDS}


class LengthCoverageJudge:
    """A rule preference judge: prefers the response that covers more of the prompt, within a length band.

    A response is *in band* when it has ``min_words`` to ``max_words`` words; its *coverage*
    is the share of the prompt's content words (:func:`content_words`) it contains. ``a`` beats
    ``b`` (score 1) if it is in band and ``b`` is not, or both are alike in that and ``a``'s
    coverage is higher; equal keys tie (0.5); else 0. Deterministic, cheap and picklable --
    a stand-in for PairRM in tests. The score is ``P(a beats b)``.

    Args:
        min_words: Fewest words of an in-band response.
        max_words: Most words of an in-band response.
    """

    def __init__(self, min_words: int = 5, max_words: int = 200):
        if not 0 <= min_words <= max_words:
            raise ValueError(f"expected 0 <= min_words <= max_words, got {min_words}, {max_words}")
        self.min_words = min_words
        self.max_words = max_words

    def key(self, prompt: str, response: str) -> tuple[bool, float]:
        """``(in band, coverage)`` of ``response`` to ``prompt``."""
        words = _WORD_RE.findall(response.lower())
        in_band = self.min_words <= len(words) <= self.max_words
        wanted = content_words(prompt)
        coverage = len(wanted & set(words)) / len(wanted) if wanted else 0.0
        return in_band, coverage

    def __call__(self, prompt: str, a: str, b: str) -> Any:
        """A ``Verdict`` whose score is 1 if ``a`` is preferred, 0 if ``b`` is, 0.5 on a tie."""
        from selfplay_gym.core.verifiers import Verdict

        key_a, key_b = self.key(prompt, a), self.key(prompt, b)
        score = 1.0 if key_a > key_b else 0.0 if key_a < key_b else 0.5
        return Verdict(score, details={"a": key_a, "b": key_b})

    def __repr__(self) -> str:
        return f"LengthCoverageJudge(min_words={self.min_words}, max_words={self.max_words})"


def preference_matrix(
    judge: Callable[[str, str, str], Any],
    prompt: str,
    responses: Sequence[str],
    fallback: float = 0.5,
    limit: WallClockLimit | None = None,
) -> tuple[list[list[float]], int, list[str]]:
    """``(P, failures, reasons)``: ``P[i][j]`` = P(response i beats response j), both orders averaged.

    For each pair the judge is asked twice, ``judge(prompt, y_i, y_j)`` and ``judge(prompt,
    y_j, y_i)`` (a position-biased judge cancels out); ``P[i][j] = (s_ij + 1 - s_ji) / 2``,
    ``P[j][i] = 1 - P[i][j]``, ``P[i][i] = 0.5``. A call that raises or returns an unreadable or
    not-ok verdict counts as ``fallback`` and as one failure. With a ``limit`` every call goes
    through it: a call that times out (or is skipped while a timed-out one still runs) is a
    failure too, with the limit's reason ("judge timed out after X s").

    Example:
        >>> longer = lambda p, a, b: float(len(a) > len(b)) if len(a) != len(b) else 0.5
        >>> preference_matrix(longer, "q", ["aa", "a"])[0]
        [[0.5, 1.0], [0.0, 0.5]]
    """
    k = len(responses)
    matrix = [[0.5] * k for _ in range(k)]
    failures = 0
    reasons: list[str] = []

    def ask(a: str, b: str) -> float:
        nonlocal failures
        try:
            verdict = judge(prompt, a, b) if limit is None else limit(judge, prompt, a, b)
            scored = as_scored(verdict, fallback)
        except JudgeTimeout as exc:
            scored = Scored(fallback, False, str(exc))
        except Exception as exc:  # a broken judge is a fallback, never a crash
            scored = Scored(fallback, False, f"judge error: {exc!r}"[:300])
        if not scored.ok:
            failures += 1
            reasons.append(scored.reason or "the judge could not decide")
            return fallback
        return scored.score

    for i in range(k):
        for j in range(i + 1, k):
            p = (ask(responses[i], responses[j]) + 1.0 - ask(responses[j], responses[i])) / 2.0
            matrix[i][j], matrix[j][i] = p, 1.0 - p
    return matrix, failures, reasons


def win_rates_of(matrix: Sequence[Sequence[float]]) -> list[float]:
    """Each row's mean over the *other* columns: the estimated win rate P(y_i beats pi).

    Example:
        >>> win_rates_of([[0.5, 1.0, 0.5], [0.0, 0.5, 0.0], [0.5, 1.0, 0.5]])
        [0.75, 0.0, 0.75]
    """
    k = len(matrix)
    return [sum(row[j] for j in range(k) if j != i) / (k - 1) for i, row in enumerate(matrix)]


# ---- prompts (our wording) ---------------------------------------------------------------------
RESPONDER_SYSTEM = (
    "You are a helpful assistant. Answer the user's request directly, accurately and with the "
    "detail it calls for. Your answer is compared with other answers to the same request."
)
CREATOR_SYSTEM = (
    "You write training prompts for an assistant. You get a prompt from a pool and evolve it "
    "into a new one that is more demanding or more specific -- add a constraint, a requirement, "
    "a perspective or a twist -- while it stays harmless, self-contained and answerable."
)
CREATOR_USER = (
    "Prompt from the pool:\n{prompt}\n\nWrite the evolved prompt inside <prompt> </prompt>; "
    "anything outside the tags is ignored."
)
_PROMPT_OPEN, _PROMPT_CLOSE = "<prompt>", "</prompt>"


def parse_evolved_prompt(text: str, max_chars: int = 2000) -> tuple[str | None, str | None]:
    """``(prompt, None)`` from the first complete ``<prompt> ... </prompt>`` after any thought, or ``(None, error)``.

    Example:
        >>> parse_evolved_prompt("<think>hm</think><prompt> Name two rivers. </prompt>")
        ('Name two rivers.', None)
        >>> parse_evolved_prompt("Name two rivers.")
        (None, 'expected <prompt> ... </prompt>')
    """
    cut = text.rfind("</think>")
    body = text[cut + len("</think>") :] if cut >= 0 else text
    start = body.find(_PROMPT_OPEN)
    end = body.find(_PROMPT_CLOSE, start + len(_PROMPT_OPEN)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None, "expected <prompt> ... </prompt>"
    prompt = body[start + len(_PROMPT_OPEN) : end].strip()
    if not prompt:
        return None, "empty <prompt>"
    return prompt[:max_chars], None


def response_of(text: str, max_chars: int) -> str:
    """A responder's reply as the judged response: after the last ``</think>``, stripped, capped."""
    cut = text.rfind("</think>")
    body = text[cut + len("</think>") :] if cut >= 0 else text
    return body.strip()[:max_chars]


# ---- the env ---------------------------------------------------------------------------------------
class PreferenceGameEnv(PipelineEnv):
    r"""Preference self-play: K responses to one prompt, scored by a pairwise judge as win rates (SPPO, SPIN, eva).

    ## Description

    The data step of *Self-Play Preference Optimization* (SPPO, Wu et al. 2024) as a game. Each
    episode draws a prompt; ``num_responses`` responders ``responder_0 .. responder_{K-1}``
    (samples of the policy, K = 5 as SPPO) each answer it, without seeing each other's answers.
    A pairwise preference judge (PairRM in SPPO; here any callable) compares every pair in both
    orders, giving the preference matrix ``P[i][j]`` = P(y_i beats y_j). A responder's reward
    is its win rate against the others, ``P(y_i > pi) = mean_j P[i][j]``, the target of SPPO's
    loss. The best and worst responses form the chosen/rejected pair of SPPO's (and, with a
    ground-truth response as "chosen", SPIN's) DPO-style data.

    With ``creator=True`` the prompt comes from *eva* (Ye et al. 2024): ``creator_0`` is shown
    a prompt drawn from a pool and writes an evolved prompt (``<prompt> ... </prompt>``), which
    joins the pool (bounded by ``pool_size``, oldest out) and is the prompt the responders
    answer. The creator is rewarded by the prompt's *informativeness*.

    ## Agents

    ``creator_0`` (only with ``creator=True``; acts first), then ``responder_0 ..
    responder_{K-1}`` in order.

    ## Action Space

    ``UnicodeText``. A responder's reply is its response: the text after the last
    ``</think>`` (a thought is never judged), stripped and cut to ``max_response_chars``. Any
    text is a valid response -- an empty one too, which the judge ranks like any other; only a
    non-string action is invalid (after the retries the responder leaves with ``no_response`` 0
    and is left out of the comparison). The creator's reply must hold ``<prompt> ...
    </prompt>`` (the first complete span after any ``</think>``, cut to ``max_prompt_chars``);
    otherwise it is invalid and, after the retries, the creator leaves at once with
    ``invalid_prompt`` 0 and the original prompt is answered.

    ## Observation Space

    ``UnicodeText``: the agent's conversation -- system text and its task -- joined by blank
    lines; ``info["messages"]`` is the same as a chat. Responders see only the prompt; the
    creator sees the pool prompt it evolves.

    ## Rewards

    At the end of the episode, once every responder has answered. For each pair ``i < j``:
    ``P[i][j] = (s(y_i, y_j) + 1 - s(y_j, y_i)) / 2`` with ``s`` the judge's score (P(first
    beats second)); ``P[j][i] = 1 - P[i][j]``.

    * Responder ``i``, component ``win_rate``: ``mean_{j != i} P[i][j]`` (in [0, 1]; the
      win rates of an episode average 0.5, the game being constant-sum).
    * Creator, component ``informativeness``: ``max_i win_rate_i - mean_i win_rate_i``, the
      gap between the best response and the average one. eva scores prompts by the reward
      gap between the best response and a baseline under a reward model; with a pairwise judge
      the win-rate gap is the analogue (0 when all responses tie, up to 0.5). An unreadable
      evolution gives ``invalid_prompt`` 0.
    * With fewer than two responses to compare (non-string actions), a remaining responder
      gets 0.5, the value of no preference.

    A judge call that fails (raises, returns an unreadable or ``ok=False`` verdict, or takes
    longer than ``judge_timeout``) counts as ``judge_fallback`` (0.5, no preference) and is
    counted in ``info["judge_failures"]``, its reason in ``info["judge_reasons"]``.
    Rewards are never normalized here.

    ## Starting State

    ``reset(seed=...)`` draws the prompt uniformly from the prompt set (without a creator) or
    from the pool (with one). ``options={"prompt": str}`` fixes it (the prompt to answer, or
    with a creator the one it evolves).

    ## Episode End

    After the last responder's answer is judged: every agent terminates and gets its reward. A
    creator whose reply stayed unreadable, or a responder that sent a non-string, terminates
    at once with 0.

    ## Info

    Beside the common keys: ``prompt`` (the prompt answered; responders, and the creator once
    written), ``response`` (a responder's own), ``original_prompt`` and ``evolved_prompt``
    (creator); at the end, for everyone still in the game: ``compared`` (the responders with a
    response, normally all), ``win_rates`` (agent -> rate), ``preference_matrix`` (over
    ``compared``, in that order), ``informativeness``, ``chosen`` and ``rejected`` (``{"agent",
    "response", "win_rate"}`` of the argmax and argmin, first on ties), ``responses`` (agent
    -> response), ``judge_failures`` and ``judge_reasons``.

    ## Arguments

    * ``prompts`` -- ``"fixture"`` (the package's prompt set), a JSONL path, or a list of
      ``{"prompt", "harmful"}`` rows (see ``load_prompts``); ``include_harmful`` (``False``:
      only benign rows are used, as a helpfulness game should).
    * ``num_responses`` -- K (5, SPPO's).
    * ``judge`` -- a ``PairwiseJudge``-like callable ``judge(prompt, a, b) -> Verdict`` with
      score P(a beats b); default :class:`LengthCoverageJudge`. ``judge_fallback`` (0.5).
    * ``judge_timeout`` -- seconds a judge you pass may take per call (60; the default rule
      judge is not timed): a hung call is abandoned (its daemon thread cannot be killed) and
      counts as the fallback, and while it still runs the remaining comparisons fall back at
      once instead of calling the judge again. ``None``: no limit.
    * ``creator`` (``False``), ``pool_size`` (1024).
    * ``max_prompt_chars`` (2000), ``max_response_chars`` (4000), ``retries`` (0),
      ``max_action_chars`` (8192), ``max_observation_chars`` (65536), ``render_mode``
      (``"ansi"`` or ``None``).

    ## Version History

    * v0: Initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {**PipelineEnv.metadata, "name": "preference_game_v0"}
    has_chance: ClassVar[bool] = True
    stop_strings: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        prompts: str | Sequence[Mapping[str, Any]] = "fixture",
        include_harmful: bool = False,
        num_responses: int = 5,
        judge: Callable[[str, str, str], Any] | None = None,
        judge_fallback: float = 0.5,
        judge_timeout: float | None = DEFAULT_JUDGE_TIMEOUT,
        creator: bool = False,
        pool_size: int = 1024,
        max_prompt_chars: int = 2000,
        max_response_chars: int = 4000,
        **kwargs: Any,
    ):
        if (
            isinstance(num_responses, bool)
            or not isinstance(num_responses, int)
            or num_responses < 2
        ):
            raise ValueError(f"expected num_responses >= 2, got {num_responses!r}")
        self.responders = [f"responder_{i}" for i in range(num_responses)]
        self.has_creator = bool(creator)
        super().__init__([*(["creator_0"] if self.has_creator else []), *self.responders], **kwargs)
        from selfplay_gym.envs.reasoning.tasks import load_prompts

        rows = [r for r in load_prompts(prompts) if include_harmful or not r.get("harmful", False)]
        self.prompts = [str(r["prompt"]) for r in rows if str(r.get("prompt", "")).strip()]
        if not self.prompts:
            raise ValueError(f"expected at least one usable prompt from {prompts!r}")
        # The built-in rule judge cannot hang: it skips the worker thread (and its cost).
        self.judge_limit = WallClockLimit(None if judge is None else judge_timeout)
        if judge is None:
            judge = LengthCoverageJudge()
        if not callable(judge):
            raise TypeError(f"expected the judge to be callable, got {type(judge).__name__}")
        if (
            isinstance(judge_fallback, bool)
            or not isinstance(judge_fallback, (int, float))
            or not 0.0 <= judge_fallback <= 1.0
        ):
            raise ValueError(f"expected judge_fallback in [0, 1], got {judge_fallback!r}")
        for name, value in (
            ("pool_size", pool_size),
            ("max_prompt_chars", max_prompt_chars),
            ("max_response_chars", max_response_chars),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"expected {name} to be a positive int, got {value!r}")
        self.num_responses = num_responses
        self.judge = judge
        self.judge_fallback = float(judge_fallback)
        self.max_prompt_chars = max_prompt_chars
        self.max_response_chars = max_response_chars
        # eva's prompt pool: it outlives episodes (evolved prompts join it), as eva's buffer.
        self.pool = TaskBuffer(pool_size, ({"prompt": p} for p in self.prompts))
        self._original: str = ""
        self._question: str = ""
        self._responses: dict[str, str] = {}

    # ---- the episode ---------------------------------------------------------------------------
    def _begin(self, options: dict[str, Any]) -> None:
        self._responses = {}
        if "prompt" in options:
            given = options["prompt"]
            if not isinstance(given, str) or not given.strip():
                raise ValueError(f"expected options['prompt'] to be a non-empty str, got {given!r}")
            prompt = given[: self.max_prompt_chars]
        elif self.has_creator:
            prompt = self.pool.sample(self.np_random, 1)[0]["prompt"]
        else:
            prompt = self.prompts[int(self.np_random.integers(len(self.prompts)))]
        self._original = prompt
        if self.has_creator:
            self.phase = "create"
            self._prompt("creator_0", CREATOR_SYSTEM, CREATOR_USER.format(prompt=prompt))
            self._seats["creator_0"].extra.update(original_prompt=prompt, evolved_prompt=None)
            self._note(f"[env] pool prompt: {prompt[:300]}")
            self._schedule("creator_0")
        else:
            self._start_responding(prompt)

    def _start_responding(self, prompt: str) -> None:
        self._question = prompt
        self.phase = "respond"
        self._note(f"[env] prompt: {prompt[:300]}")
        for agent in self.responders:
            self._prompt(agent, RESPONDER_SYSTEM, prompt)
            self._seats[agent].extra["prompt"] = prompt
        if self.has_creator:
            self._seats["creator_0"].extra["prompt"] = prompt
        self._schedule(*self.responders)

    def _handle(self, agent: str, text: str) -> None:
        if agent == "creator_0":
            evolved, error = parse_evolved_prompt(text, self.max_prompt_chars)
            if evolved is None:
                self._unreadable(agent, error or "no prompt found", text)
                return
            self._seats[agent].parse = {"ok": True, "extracted": evolved[:200], "error": None}
            self._seats[agent].extra["evolved_prompt"] = evolved
            self._say(agent, "assistant", text[:4000])
            self.pool.add({"prompt": evolved})
            self._note(f"[creator_0] {evolved[:300]}")
            self._start_responding(evolved)
            return
        # Any text is a response, an empty one too (the judge ranks it); only a non-str fails.
        response = response_of(text, self.max_response_chars)
        self._seats[agent].parse = {"ok": True, "extracted": response[:200], "error": None}
        self._say(agent, "assistant", response)
        self._record(agent, response)

    def _on_unreadable(self, agent: str, error: str) -> None:
        # An invalid move ends the mover's part at once, with 0.
        if agent == "creator_0":
            self._reward(agent, "invalid_prompt", 0.0)
            self._finish(agent)
            self._note("[creator_0] unreadable; the pool prompt is answered")
            self._start_responding(self._original)
        else:  # a non-str action: no response to compare
            self._reward(agent, "no_response", 0.0)
            self._finish(agent)
            self._record(agent, None)

    def _record(self, agent: str, response: str | None) -> None:
        self._responses[agent] = response
        self._seats[agent].extra["response"] = response
        self._note(f"[{agent}] {'(no response)' if response is None else response[:200]}")
        if len(self._responses) == len(self.responders):
            self._score()

    def _score(self) -> None:
        self.phase = "judge"
        compared = [a for a in self.responders if self._responses[a] is not None]
        responses = [self._responses[a] for a in compared]
        matrix, failures, reasons = preference_matrix(
            self.judge, self._question, responses, self.judge_fallback, self.judge_limit
        )
        # Fewer than two responses: nobody to compare with, the no-preference value.
        rates = win_rates_of(matrix) if len(compared) > 1 else [0.5] * len(compared)
        for agent, rate in zip(compared, rates, strict=True):
            self._reward(agent, "win_rate", rate)
        if not compared:
            self._end()
            return
        best = max(range(len(rates)), key=lambda i: (rates[i], -i))
        worst = min(range(len(rates)), key=lambda i: (rates[i], i))
        informativeness = max(rates) - sum(rates) / len(rates)
        if self.has_creator and not self._seats["creator_0"].finished:
            self._reward("creator_0", "informativeness", informativeness)
        summary = {
            "compared": list(compared),
            "win_rates": dict(zip(compared, rates, strict=True)),
            "preference_matrix": [list(row) for row in matrix],
            "chosen": {
                "agent": compared[best],
                "response": responses[best],
                "win_rate": rates[best],
            },
            "rejected": {
                "agent": compared[worst],
                "response": responses[worst],
                "win_rate": rates[worst],
            },
            "responses": dict(zip(compared, responses, strict=True)),
            "judge_failures": failures,
            "judge_reasons": reasons[:10],
            "informativeness": informativeness,
        }
        for agent in self.possible_agents:
            if not self._seats[agent].finished:
                self._seats[agent].extra.update(summary)
        self._note(
            "[judge] win rates "
            + ", ".join(f"{a}={r:.2f}" for a, r in zip(compared, rates, strict=True))
            + (f" ({failures} judge failures)" if failures else "")
        )
        self._end()

    # ---- views ---------------------------------------------------------------------------------
    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` knows, structured, for scripted players (never another's response).

        The creator: ``seed_prompt`` (the pool prompt to evolve); a responder: ``prompt`` (the
        prompt to answer, ``None`` before the creator has written it).
        """
        if not self._seats:
            raise RuntimeError("call reset() before agent_view()")
        role = agent.rpartition("_")[0]
        view: dict[str, Any] = {"role": role, "phase": self.phase}
        if role == "creator":
            view["seed_prompt"] = self._original
        else:
            view["prompt"] = self._question if self.phase != "create" else None
        return view


# ---- scripted players ------------------------------------------------------------------------------
class SkillResponder(Bot):
    """Writes a response that covers a skill-dependent share of the prompt's content words.

    Each answer draws a quality ``q = skill + noise`` (clipped to [0, 1]) and mentions about
    ``q`` of the prompt's content words; below ``terse_below`` it writes a one-word reply (out
    of the judge's length band), and with probability ``empty_rate`` nothing at all.

    Args:
        skill: Mean quality in [0, 1].
        noise: Standard deviation of the quality around ``skill``.
        empty_rate: Probability of an empty reply.
        terse_below: Quality under which the reply is one word.
        seed: Seed of its generator.
    """

    name = "skill_responder"

    def __init__(
        self,
        skill: float = 0.6,
        noise: float = 0.3,
        empty_rate: float = 0.05,
        terse_below: float = 0.15,
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.skill, self.noise, self.empty_rate, self.terse_below = (
            skill,
            noise,
            empty_rate,
            terse_below,
        )

    def act(self, env: Any, agent: str) -> str:
        """A response of random quality to the prompt in ``env.agent_view(agent)``."""
        prompt = str(env.agent_view(agent).get("prompt") or "")
        if self.rng.random() < self.empty_rate:
            return ""
        quality = min(1.0, max(0.0, self.skill + self.rng.gauss(0.0, self.noise)))
        if quality < self.terse_below:
            return "Okay."
        words = sorted(content_words(prompt))
        picked = [w for w in words if self.rng.random() < quality]
        if not picked:
            return "Here is a general answer that does not go into the specifics you asked about."
        return (
            f"Here is my answer, covering {', '.join(picked)}. "
            "I address each point in turn and keep it clear and concise."
        )


CONSTRAINTS = (
    "Answer in at most three sentences.",
    "Include one concrete example.",
    "Explain it so that a ten-year-old would understand.",
    "Compare two different approaches.",
    "End with a short summary in bold.",
    "Use a numbered list.",
)
"""Constraints the scripted creator adds to a prompt."""


class ConstraintCreator(Bot):
    """Evolves a prompt by adding a constraint; with probability ``mistakes`` forgets the tags.

    Args:
        mistakes: Probability of an unreadable reply.
        seed: Seed of its generator.
    """

    name = "constraint_creator"

    def __init__(self, mistakes: float = 0.1, seed: int | None = None):
        super().__init__(seed)
        self.mistakes = mistakes

    def act(self, env: Any, agent: str) -> str:
        """``<prompt>`` the pool prompt plus a constraint ``</prompt>``."""
        seed = str(env.agent_view(agent).get("seed_prompt") or "")
        constraint = self.rng.choice(CONSTRAINTS)
        evolved = f"{seed} {constraint}" if constraint not in seed else seed
        if self.rng.random() < self.mistakes:
            return evolved
        return f"<prompt>{evolved}</prompt>"


class ScriptedPreferencePlayer(Bot):
    """Plays either seat: :class:`ConstraintCreator` as creator, :class:`SkillResponder` as responder.

    Args:
        skill: The responders' mean quality.
        empty_rate: The responders' probability of an empty reply.
        mistakes: The creator's probability of an unreadable reply.
        seed: Seed of its generator.
    """

    name = "scripted"

    def __init__(
        self,
        skill: float = 0.6,
        empty_rate: float = 0.05,
        mistakes: float = 0.1,
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.creator = ConstraintCreator(mistakes)
        self.responder = SkillResponder(skill, empty_rate=empty_rate)

    def act(self, env: Any, agent: str) -> str:
        """The move of whichever role ``agent`` plays."""
        player = self.creator if agent.startswith("creator") else self.responder
        player.rng = self.rng  # one generator, re-seeded by reset()
        return player.act(env, agent)
