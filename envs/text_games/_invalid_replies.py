"""The invalid-move policy of the free-text social games built on the pipeline base (Spy, Werewolf)."""

from __future__ import annotations

__all__ = ["InvalidReplies"]


class InvalidReplies:
    """Retry, forfeit and penalize for a free-text pipeline game.

    For a :class:`~selfplay_gym.core.pipeline.PipelineEnv` game with an ``invalid_move`` policy,
    ``_attempts_left``, ``_fresh`` and the pipeline's ``_note``/``_say``/``_tell``.

    :meth:`_retry_or_forfeit` carries out ``retry`` (feedback, the same agent acts again) and
    ``forfeit`` (rewards paid, the game ends); under ``penalize`` it pays the penalty and leaves
    skipping the move to the game, which alone knows what a skipped clue, speech or vote means.
    """

    def _unreadable(self, agent: str, error: str, text: str) -> bool:
        self._fresh.discard(agent)
        self._invalid(agent, error + ".", text)
        return True

    def _retry_or_forfeit(self, agent: str, error: str, text: str) -> bool:
        """Apply retry or forfeit; False when the move is to be skipped (penalty already paid)."""
        policy = self.invalid_move
        mode = policy.mode
        reason = error.rstrip(".")
        if mode == "retry":
            if self._attempts_left > 0:
                self._attempts_left -= 1
                self._reward(agent, "invalid_move", policy.retry_penalty)
                self._note(f"{agent} made an invalid move ({reason}); it may try again.")
                self._say(agent, "assistant", text[-2000:])
                self._say(
                    agent,
                    "user",
                    f"Your last reply could not be used: {error} "
                    f"Answer again ({self._attempts_left} more attempt(s) this turn).",
                )
                self._fresh.add(agent)
                self._schedule(agent, first=True)
                return True
            mode = policy.exhausted
        self._attempts_left = policy.retry_budget
        if mode == "forfeit":
            self._tell(f"{agent} made an invalid move and forfeits the game ({reason}).")
            for a in self.possible_agents:
                value = policy.offender_reward if a == agent else policy.opponent_reward
                self._reward(a, "forfeit", value)
            self._before_forfeit_end()
            self._end()
            return True
        self._reward(agent, "invalid_move", policy.penalty)
        return False

    def _before_forfeit_end(self) -> None:
        """What the game tells everyone when a forfeit ends it (nothing by default)."""
