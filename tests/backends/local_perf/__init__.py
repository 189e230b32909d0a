"""Speed features of the local backend: token budgets and concurrent batching."""
