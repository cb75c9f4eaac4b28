"""Search self-play: retrieval backends, offline corpora, and SSP's proposer/solver game.

* :mod:`~selfplay_gym.envs.search.env` -- ``selfplay/SearchSelfPlay-v0`` (proposer and solvers)
  and ``selfplay/SearchQA-v0`` (solvers on a question set, Search-R1's task);
* :mod:`~selfplay_gym.envs.search.backends` -- tantivy BM25 (default), SQLite FTS5, dense and
  hybrid search, and a client of Search-R1 retrieval servers;
* :mod:`~selfplay_gym.envs.search.server` -- any backend served with Search-R1's ``/retrieve``;
* :mod:`~selfplay_gym.envs.search.corpora` -- the embedded fictional corpus, the CIA World
  Factbook, Wikipedia vital articles, WordNet, and Search-R1 JSONL files;
* :mod:`~selfplay_gym.envs.search.readers` -- the RAG check's readers and answer judges;
* :mod:`~selfplay_gym.envs.search.players` -- scripted proposer and solver.

Nothing heavy is imported here: tantivy loads when an index is first opened.
"""

from selfplay_gym.envs.search.base import Corpus, Hit, Passage, SearchBackend, SearchError
from selfplay_gym.envs.search.env import SearchSelfPlayEnv

__all__ = ["SearchSelfPlayEnv", "Corpus", "Hit", "Passage", "SearchBackend", "SearchError"]
