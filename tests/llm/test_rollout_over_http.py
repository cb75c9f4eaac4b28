"""A rollout through a real OpenAI-compatible server that dies halfway."""

from __future__ import annotations

from conftest import make_http_backend

from selfplay_gym.llm import LLMPolicy, SamplingParams
from selfplay_gym.rollout import RolloutEngine, read_records


class KillAfter(LLMPolicy):
    """An HTTP policy that kills its server after ``calls`` batched calls."""

    def __init__(self, backend, server, calls):
        super().__init__(backend, sampling=SamplingParams(max_new_tokens=4), name="served")
        self.server = server
        self.calls_left = calls

    def generate(self, observations, infos=None, sampling=None):
        out = super().generate(observations, infos, sampling)
        self.calls_left -= 1
        if self.calls_left == 0:
            self.server.stop()
        return out


def test_killing_the_server_mid_rollout_gives_recorded_failures_and_a_valid_file(
    killable_server, tiny_model_path, tmp_path
):
    backend = make_http_backend(killable_server.url, tiny_model_path, timeout=10.0, backoff=0.01)
    policy = KillAfter(backend, killable_server, calls=2)
    path = tmp_path / "traj.jsonl"
    engine = RolloutEngine(
        "selfplay/KuhnPoker-v0",
        {"served": policy, "bot": "random"},
        mapping={"player_0": "served", "player_1": "bot"},
        num_envs=4,
        env_kwargs={"invalid_move": "penalize"},  # games go on after a bad answer
        trajectory_path=path,
    )
    stats = engine.run(12)  # returns: no exception escaped the rollout
    assert killable_server.process.poll() is not None  # the server is really gone
    assert stats.episodes == 12

    records = list(read_records(path))
    episodes = [r for r in records if r["type"] == "episode"]
    steps = [r for r in records if r["type"] == "step"]
    assert sorted(e["episode_id"] for e in episodes) == list(range(12))
    served = [s for s in steps if s["policy"] == "served"]
    answered = [s for s in served if s["finish_reason"] != "error"]
    failed = [s for s in served if s["finish_reason"] == "error"]
    # The first two batches were answered, everything after the kill failed and was recorded.
    assert answered and failed
    assert stats.failed_generations == len(failed)
    assert all(s["completion"] == "" and s["invalid_action"] for s in failed)
    assert all("127.0.0.1" in s["error"] for s in failed)
    assert all(
        e["errors"] == sum(1 for s in failed if s["episode_id"] == e["episode_id"])
        for e in episodes
    )
    # Every failed move was penalised (the id's penalty, -1 by default) and the game went on.
    assert all(s["reward_components"].get("invalid_move") == -1.0 for s in failed)
