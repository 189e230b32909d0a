"""The first stage: BM25 retrieval over a corpus with ``bm25s``."""

from __future__ import annotations

from collections.abc import Mapping

from rerankit._errors import InvalidInputError
from rerankit.evaluation._beir import Document
from rerankit.evaluation._results import RankedDocument


class BM25Retriever:
    """BM25 over a corpus with ``bm25s`` (English stopwords, no stemming).

    Only documents sharing at least one term with the query are retrieved, as in any inverted
    index; a query may therefore get fewer than ``k`` candidates.

    Args:
        corpus: Document id -> document; each is indexed by its :attr:`Document.content`.

    Raises:
        InvalidInputError: The corpus is empty.

    >>> from rerankit.evaluation import DEMO_DATA, load_beir
    >>> retriever = BM25Retriever(load_beir(DEMO_DATA).corpus)
    >>> len(retriever.search("how does bm25 rank documents", k=3))
    3
    """

    def __init__(self, corpus: Mapping[str, Document]) -> None:
        import bm25s

        self._bm25s = bm25s
        self.doc_ids = list(corpus)
        if not self.doc_ids:
            raise InvalidInputError("the corpus is empty")
        tokens = bm25s.tokenize([doc.content for doc in corpus.values()], stopwords="en", show_progress=False)
        self.index = bm25s.BM25()
        self.index.index(tokens, show_progress=False)

    def search(self, query: str, k: int) -> list[RankedDocument]:
        """The top ``k`` documents for ``query`` with a positive BM25 score, best first.

        Args:
            query: The query text.
            k: The most documents to return.

        Returns:
            Up to ``k`` documents (fewer when fewer share a term with the query), best first.
        """
        tokens = self._bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)
        k = min(k, len(self.doc_ids))
        positions, scores = self.index.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [
            RankedDocument(id=self.doc_ids[int(position)], score=float(score))
            for position, score in zip(positions[0], scores[0], strict=True)
            if score > 0
        ]
