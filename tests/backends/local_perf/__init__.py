"""Speed features of the local backend: token budgets, concurrent batching, accelerated runtimes."""
