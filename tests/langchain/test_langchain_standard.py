"""langchain-tests' standard retriever suite, on a retriever whose ``k`` is RerankCompressor's ``top_n``."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from rerankit.langchain import RerankCompressor
from tests.langchain.rerank_lc_support import GATEWAY_SPEC, LOOPBACK_KEY, QUERY


class RerankingRetriever(BaseRetriever):
    """A first-stage retriever followed by a RerankCompressor; ``k`` (field or call argument) is its top_n."""

    base_retriever: BaseRetriever
    compressor: RerankCompressor
    k: int = 3

    def _pipeline(self, k: int | None) -> ContextualCompressionRetriever:
        compressor = self.compressor.model_copy(update={"top_n": k or self.k})
        return ContextualCompressionRetriever(base_compressor=compressor, base_retriever=self.base_retriever)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        return self._pipeline(k).invoke(query, config={"callbacks": run_manager.get_child()})

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        return await self._pipeline(k).ainvoke(query, config={"callbacks": run_manager.get_child()})


class TestRerankingRetrieverOnLocalModel(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _parts(self, vector_retriever: BaseRetriever, local_spec: str) -> None:
        self.parts = {
            "base_retriever": vector_retriever,
            "compressor": RerankCompressor(model=local_spec, device="cpu"),
        }

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return RerankingRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return self.parts

    @property
    def retriever_query_example(self) -> str:
        return QUERY


class TestRerankingRetrieverOverHTTP(TestRerankingRetrieverOnLocalModel):
    @pytest.fixture(autouse=True)
    def _parts(self, vector_retriever: BaseRetriever, gateway_server) -> None:
        compressor = RerankCompressor(
            model=GATEWAY_SPEC, base_url=gateway_server.base_url, api_key=LOOPBACK_KEY
        )
        self.parts = {"base_retriever": vector_retriever, "compressor": compressor}
