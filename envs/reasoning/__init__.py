"""Proposer/solver/judge pipelines (MAE, PasoDoble, SvS, SPC, Self-RedTeam, preference games)."""
