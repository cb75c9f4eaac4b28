"""Environment families, one folder each (see ``selfplay_gym.registry`` for the ids).

A family imports ``selfplay_gym.core`` and nothing from a sibling family.
"""
